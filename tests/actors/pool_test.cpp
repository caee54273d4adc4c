// How a node's pools hand out jobs: to idle workers at once, with one poller per job type.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "tests/actors/counting_store.hpp"
#include "tests/actors/supervisor_fixture.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

/// Counts how many of its jobs run at once; each waits until `expected` have started (or
/// until released), so that jobs run one after another never reach `expected`.
class side_by_side final : public actors::job_handler {
 public:
  explicit side_by_side(int expected) : expected_(expected) {}
  job_outcome run(const storage::claimed_job&) override {
    std::unique_lock<std::mutex> lock{mutex_};
    ++running_;
    most_ = std::max(most_, running_);
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(20),
                      [&] { return released_ || most_ >= expected_; });
    --running_;
    return job_outcome::done();
  }
  int most() {
    std::lock_guard<std::mutex> lock{mutex_};
    return most_;
  }
  void release() {
    std::lock_guard<std::mutex> lock{mutex_};
    released_ = true;
    changed_.notify_all();
  }

 private:
  int expected_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int running_ = 0;
  int most_ = 0;
  bool released_ = false;
};

}  // namespace

TEST_F(Supervisor, AClaimedJobNeverWaitsWhileAWorkerOfItsTypeIsIdle) {
  // Eight slow jobs, eight workers and claims of up to eight: a worker that kept a batch and
  // ran it job after job would hold the others' jobs while they idle.
  constexpr int jobs = 8;
  node_.workers = {{"slow", jobs}};
  node_.claim_batch = jobs;
  auto handler = std::make_shared<side_by_side>(jobs);
  handlers_->add("slow", handler);
  std::vector<storage::request_id> ids;
  for (int i = 0; i < jobs; ++i) ids.push_back(submit("h" + std::to_string(i), {"slow"}));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  EXPECT_TRUE(wait_until([&] { return handler->most() >= jobs; }, std::chrono::seconds(20)));
  EXPECT_EQ(handler->most(), jobs) << "every claimed job started on a worker of its own";
  handler->release();
  EXPECT_TRUE(wait_until([&] {
    return std::all_of(ids.begin(), ids.end(),
                       [&](auto id) { return state_of(id) == storage::request_state::succeeded; });
  }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, APoolPollsTheQueueOnceForAllItsWorkers) {
  // Sixteen idle workers: polling per worker would claim sixteen times at start, under sixteen
  // owners, side by side.
  node_.workers = {{"t", 16}};
  handlers_->add("t", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  auto counted = std::make_shared<counting_store>(**db_);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [&](actors::supervisor_config& c) { c.store = counted; });
  EXPECT_TRUE(wait_until([&] { return counted->claims("t") >= 3; }));
  EXPECT_EQ(counted->owners("t"), 1u) << "one lease owner for the pool";
  EXPECT_EQ(counted->max_concurrent_claims(), 1) << "an idle pool polls with one claim at a time";
  // Work still flows through that one claimer, to all the workers.
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(submit("h" + std::to_string(i), {"t", "t"}));
  EXPECT_TRUE(wait_until([&] {
    return std::all_of(ids.begin(), ids.end(),
                       [&](auto id) { return state_of(id) == storage::request_state::succeeded; });
  }));
  EXPECT_EQ(counted->owners("t"), 1u);
  EXPECT_LE(counted->max_concurrent_claims(), 4) << "a busy pool overlaps a few claims at most";
  EXPECT_TRUE(drain(sys, sup));
}

}  // namespace ab::testing
