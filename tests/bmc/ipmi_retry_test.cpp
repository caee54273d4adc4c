#include <stdlib.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "bmc/ipmi_driver.hpp"
#include "core/error.hpp"
#include "tests/bmc/target_for.hpp"

namespace ab::bmc {
namespace {

using namespace std::chrono_literals;

/// A stand-in for ipmitool in a temp dir: a script that counts its runs, checks that the
/// password came in the environment only, and fails its first `failures` runs with `err`.
class fake_ipmitool {
 public:
  fake_ipmitool(int failures, const std::string& err) {
    char tmpl[] = "/tmp/ab-fake-ipmitool-XXXXXX";
    dir_ = ::mkdtemp(tmpl) ? tmpl : "/tmp";
    std::ofstream{path()} << "#!/bin/sh\n"
                          << "n=$(cat \"$0.runs\" 2>/dev/null || echo 0)\n"
                          << "echo $((n + 1)) > \"$0.runs\"\n"
                          << "[ \"$IPMI_PASSWORD\" = secret ] || exit 9\n"
                          << "case \"$*\" in *secret*) exit 9 ;; esac\n"
                          << "if [ \"$n\" -lt " << failures << " ]; then\n"
                          << "  printf '%s\\n' '" << err << "' >&2\n"
                          << "  exit 1\n"
                          << "fi\n"
                          << "echo 'Chassis Power is on'\n";
    std::filesystem::permissions(path(), std::filesystem::perms::owner_all);
  }
  ~fake_ipmitool() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  fake_ipmitool(const fake_ipmitool&) = delete;
  fake_ipmitool& operator=(const fake_ipmitool&) = delete;

  std::string path() const { return dir_ + "/ipmitool"; }
  int runs() const {
    int n = 0;
    std::ifstream{path() + ".runs"} >> n;
    return n;
  }

 private:
  std::string dir_;
};

target bmc() {
  return target_for("127.0.0.1:6230", "admin", "secret");
}

constexpr const char* no_answer = "Get Auth Capabilities error";
constexpr const char* refused = "RAKP 2 HMAC is invalid";

TEST(IpmiDriverRetry, ATransientFailureIsTriedAgain) {
  fake_ipmitool tool{1, no_answer};
  ipmi_driver driver{tool.path(), {3, 10ms}};
  auto state = driver.power(bmc());
  ASSERT_TRUE(state) << message_of(state.error());
  EXPECT_EQ(*state, power_state::on);
  EXPECT_EQ(tool.runs(), 2);
}

TEST(IpmiDriverRetry, RetriesAreBounded) {
  fake_ipmitool tool{100, no_answer};
  ipmi_driver driver{tool.path(), {3, 10ms}};
  auto state = driver.power(bmc());
  ASSERT_FALSE(state);
  EXPECT_TRUE(is(state.error(), errc::unavailable));
  EXPECT_NE(message_of(state.error()).find(no_answer), std::string::npos);
  EXPECT_EQ(tool.runs(), 3);
}

TEST(IpmiDriverRetry, RefusedCredentialsAreNotTriedAgain) {
  fake_ipmitool tool{100, refused};
  ipmi_driver driver{tool.path(), {3, 10ms}};
  auto err = driver.set_power(bmc(), power_action::on);
  EXPECT_TRUE(is(err, errc::unauthenticated));
  EXPECT_EQ(tool.runs(), 1);
}

}  // namespace
}  // namespace ab::bmc
