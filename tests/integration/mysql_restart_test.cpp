// The MySQL store rides out a real restart of its server: calls made while it is down wait
// and succeed once it is back; pooled connections to the old server are replaced.

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

namespace {

/// Runs `scripts/mariadb ACTION` on the server the tests use; false if that failed.
bool mariadb(const std::string& action) {
  const char* dir = std::getenv("AB_MARIADB_DIR");
  if (!dir) return false;
  auto cmd = std::string{AB_SOURCE_DIR} + "/scripts/mariadb " + action + " --dir '" + dir +
             "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

storage::request_spec one_job(const std::string& host) {
  storage::request_spec s;
  s.action = "power_on";
  s.host = host;
  s.site = "dc1";
  s.chain.push_back({"power_on", 3, 0});
  return s;
}

}  // namespace

TEST(MysqlRestart, CallsDuringAndAfterARestartSucceed) {
  ASSERT_NE(std::getenv("AB_MARIADB_DIR"), nullptr)
      << "AB_MARIADB_DIR is not set: run through scripts/test, which owns the server";
  auto clk = std::make_shared<system_clock>();
  scratch_store db{"mysql", clk};
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_TRUE(db->submit({one_job("before")}));

  ASSERT_TRUE(mariadb("stop"));
  // Bring the server back a moment after a call has started waiting for it.
  auto restart = std::async(std::launch::async, [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return mariadb("start");
  });
  auto during = db->submit({one_job("during")});
  ASSERT_TRUE(restart.get()) << "scripts/mariadb start failed";
  ASSERT_TRUE(during) << message_of(during.error());
  EXPECT_EQ(during->at(0).what, storage::submit_outcome::status::created);

  // And once more, now that every pooled connection belonged to the previous server.
  ASSERT_TRUE(mariadb("stop"));
  ASSERT_TRUE(mariadb("start"));
  auto jobs = db->claim("node-a", "power_on", 10, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  EXPECT_EQ(jobs->size(), 2u);
}

}  // namespace ab::testing
