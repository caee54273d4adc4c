// The benchmarks' start-up check for active requests an interrupted run left on their hosts.

#include "bench/leftovers.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/fakes/test_store.hpp"

namespace ab::testing {

namespace {

storage::request_id submit(storage::store& db, const std::string& host) {
  storage::request_spec s;
  s.action = "bench";
  s.host = host;
  s.site = "dc1";
  s.chain = {{"sim.noop", 3, 0}};
  auto out = db.submit({s});
  EXPECT_TRUE(out);
  return out ? out->at(0).id : 0;
}

}  // namespace

TEST(BenchLeftovers, ActiveRequestsOfTheBenchmarksHostsStopItUnlessReset) {
  scratch_store db{"sqlite", std::make_shared<system_clock>()};
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto left = submit(*db, "noop-7");
  auto other = submit(*db, "db-1");
  auto done = submit(*db, "noop-8");
  ASSERT_TRUE(db->cancel(done, "finished before"));
  auto found = bench::leftover_requests(*db, {"noop-", "slow-"});
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().id, left);
  EXPECT_FALSE(bench::clear_leftovers(*db, {"noop-"}, false, "ab-bench-node"));
  EXPECT_EQ(db->request(left)->state, storage::request_state::queued) << "nothing changed";
  EXPECT_TRUE(bench::clear_leftovers(*db, {"noop-"}, true, "ab-bench-node"));
  EXPECT_EQ(db->request(left)->state, storage::request_state::cancelled);
  EXPECT_EQ(db->request(other)->state, storage::request_state::queued) << "not a bench host";
  EXPECT_TRUE(bench::clear_leftovers(*db, {"noop-"}, false, "ab-bench-node"));
}

TEST(BenchLeftovers, ManyLeftoversAreFoundAcrossPages) {
  scratch_store db{"sqlite", std::make_shared<system_clock>()};
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < 1200; ++i) {
    storage::request_spec s;
    s.action = "bench";
    s.host = "bench-" + std::to_string(i);
    s.site = "dc1";
    s.chain = {{"t", 3, 0}};
    specs.push_back(std::move(s));
  }
  ASSERT_TRUE(db->submit(specs));
  auto found = bench::leftover_requests(*db, {"bench-"});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->size(), 1200u);
}

TEST(BenchLeftovers, TakeFlagRemovesTheFlagAndKeepsTheRestInOrder) {
  std::vector<std::string> words{"ab-bench-bmc", "--hosts", "5", "--reset", "--rounds", "1"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  int argc = static_cast<int>(argv.size());
  EXPECT_TRUE(bench::take_flag(argc, argv.data(), "--reset"));
  ASSERT_EQ(argc, 5);
  EXPECT_EQ(std::string{argv[3]}, "--rounds");
  EXPECT_FALSE(bench::take_flag(argc, argv.data(), "--reset"));
  EXPECT_EQ(argc, 5);
}

}  // namespace ab::testing
