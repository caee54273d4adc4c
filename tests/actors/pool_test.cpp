// How a node's pools hand out jobs: to idle workers at once, with one poller per job type; what
// a crashed worker leaves is failed or retried, and counted, once.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "actors/services.hpp"
#include "actors/worker.hpp"
#include "metrics/metrics.hpp"

#include "tests/actors/counting_store.hpp"
#include "tests/actors/supervisor_fixture.hpp"
#include "tests/fakes/wait.hpp"
#include "tests/metrics/sample.hpp"

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

TEST(JobBatch, EveryJobIsTakenOnceWhateverTheRaceOfItsTakers) {
  // Four takers and the pool's own give-back race for 5,000 jobs: each is taken exactly once.
  std::vector<storage::claimed_job> jobs(5000);
  for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].id = static_cast<storage::job_id>(i);
  actors::job_batch batch{jobs};
  std::vector<std::atomic<int>> taken(jobs.size());
  std::vector<std::thread> takers;
  for (int t = 1; t <= 4; ++t)
    takers.emplace_back([&, t] {
      while (auto i = batch.take(t)) {
        ++taken[*i];
        EXPECT_EQ(batch.taker(*i), t);
        batch.finish(*i, {{batch.job(*i).id, 0}, true, {}}, 0.0);
      }
    });
  std::this_thread::yield();
  auto rest = batch.take_rest();
  for (auto& t : takers) t.join();
  for (auto i : rest) {
    ++taken[i];
    EXPECT_EQ(batch.taker(i), -1) << "given back, never taken by a worker";
    EXPECT_FALSE(batch.finished(i));
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(taken[i].load(), 1) << "job " << i;
  EXPECT_EQ(batch.untaken(), 0u);
  EXPECT_FALSE(batch.take(9));
}

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

TEST_F(Supervisor, AWorkerThatCrashesInABatchCostsOnlyTheAttemptItWasRunning) {
  // Quick jobs: the pool claims ahead and its two workers take them from shared batches. The
  // worker that crashes had finished jobs of its batch (they still count) and left jobs untaken
  // (the other worker, or its successor, runs them): one job runs twice, no other.
  constexpr int jobs = 60;
  node_.workers = {{"quick", 2}};
  node_.claim_batch = 16;
  std::atomic<int> runs{0};
  handlers_->add("quick", std::make_shared<scripted>([&](const storage::claimed_job& j) {
                   if (++runs == 25 && j.attempt == 1) throw actors::worker_crash("simulated");
                   return job_outcome::done();
                 }));
  std::vector<storage::request_id> ids;
  for (int i = 0; i < jobs; ++i) ids.push_back(submit("h" + std::to_string(i), {"quick"}));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  auto straggler = actors::spawn_straggler(sys, store(), 50);
  EXPECT_TRUE(wait_until([&] {
    return std::all_of(ids.begin(), ids.end(),
                       [&](auto id) { return state_of(id) == storage::request_state::succeeded; });
  }));
  int twice = 0;
  for (auto id : ids) {
    auto attempts = (*db_)->request(id)->jobs[0].attempts;
    EXPECT_LE(attempts, 2) << "request " << id;
    twice += attempts == 2 ? 1 : 0;
  }
  EXPECT_EQ(twice, 1) << "only the job the worker was running when it crashed ran again";
  EXPECT_EQ(runs.load(), jobs + 1);
  EXPECT_EQ(status(sys, sup).restarts, 1);
  caf::anon_send_exit(straggler, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, ARequestWhoseWorkersCrashIsCountedOnceAsFailedAndItsRetryOnce) {
  // Every attempt crashes its worker: the first is retried, the second fails the request for
  // good, both through the claimer (not the worker, which is gone): a retry and a failed
  // request counted once each, as a worker counts its own failures.
  node_.workers = {{"crashing", 1}};
  handlers_->add("crashing",
                 std::make_shared<scripted>([](const storage::claimed_job&) -> job_outcome {
                   throw actors::worker_crash("simulated");
                 }));
  const std::string failed =
      R"(ab_requests_finished_total{action="crash-test",class="user",state="failed"})";
  const std::string retries = R"(ab_job_retries_total{job_type="crashing"})";
  auto before = metrics::text();
  auto id = submit("h1", {"crashing"}, "crash-test", 2);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::failed; }));
  auto counted = [&](const std::string& series) {
    return count_of(metrics::text(), series) - count_of(before, series);
  };
  EXPECT_TRUE(wait_until([&] { return counted(failed) >= 1; }));
  EXPECT_TRUE(drain(sys, sup));
  EXPECT_EQ(counted(failed), 1);
  EXPECT_EQ(counted(retries), 1);
  EXPECT_EQ((*db_)->request(id)->jobs[0].attempts, 2);
}

}  // namespace ab::testing
