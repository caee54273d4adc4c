// Conformance: many claimers on several connections never double-claim, keep chain order,
// concurrent recovery takes each stray job once, and park and wake racing never lose an event.

#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <thread>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

TEST_P(StoreConformance, ConcurrentClaimersNeverHoldTheSameJobAndKeepChainOrder) {
  constexpr int requests = 120;
  constexpr int chain = 4;
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < requests; ++i)
    specs.push_back(spec("c" + std::to_string(i), std::vector<std::string>(chain, "step")));
  ASSERT_TRUE(db().submit(specs));

  std::mutex mu;
  std::map<storage::job_id, int> claims;        // job -> times claimed
  std::map<storage::request_id, int> progress;  // request -> next position expected
  std::atomic<int> steps{0};
  std::atomic<bool> order_broken{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w)
    workers.emplace_back([&, w] {
      int idle = 0;
      while (steps.load() < requests * chain && idle < 2000) {
        auto jobs = db().claim("worker-" + std::to_string(w), "step", 8, 60000);
        if (!jobs || jobs->empty()) {
          ++idle;
          std::this_thread::yield();
          continue;
        }
        std::vector<storage::completion> done;
        {
          std::lock_guard<std::mutex> guard{mu};
          for (const auto& j : *jobs) {
            ++claims[j.id];
            if (progress[j.request] != j.position) order_broken = true;
            progress[j.request] = j.position + 1;
            done.push_back({{j.id, j.lease_token}, ""});
          }
        }
        auto res = db().complete(done);
        if (res) steps += static_cast<int>(res->completed);
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(steps.load(), requests * chain);
  EXPECT_FALSE(order_broken.load());
  EXPECT_EQ(claims.size(), static_cast<std::size_t>(requests * chain));
  for (const auto& [job, n] : claims) EXPECT_EQ(n, 1) << "job " << job << " claimed " << n << "x";
  storage::request_filter f;
  f.state = storage::request_state::succeeded;
  f.limit = 1000;
  EXPECT_EQ(db().requests(f)->items.size(), static_cast<std::size_t>(requests));
}

TEST_P(StoreConformance, ConcurrentRecoveryTakesEachStrayJobOnce) {
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < 60; ++i) specs.push_back(spec("r" + std::to_string(i)));
  ASSERT_TRUE(db().submit(specs));
  ASSERT_EQ(claim("t", 100, "dead-node", 1000).size(), 60u);
  clock_->advance(2000);
  std::atomic<std::size_t> retried{0};
  std::vector<std::thread> nodes;
  for (int n = 0; n < 4; ++n)
    nodes.emplace_back([&] {
      // Stop once a round finds nothing: with SKIP LOCKED that may be early, but the last
      // node to stop has then seen every stray job taken.
      for (int round = 0; round < 100; ++round) {
        auto rec = db().recover(7);
        if (!rec || rec->retried == 0) break;
        retried += rec->retried;
      }
    });
  for (auto& t : nodes) t.join();
  EXPECT_EQ(retried.load(), 60u);
  EXPECT_EQ(db().recover(100)->retried, 0u);
  clock_->advance(policy().backoff_max_ms);
  auto again = claim("t", 100, "live-node");
  EXPECT_EQ(again.size(), 60u);
  for (const auto& j : again) EXPECT_EQ(j.attempt, 2);
}

TEST_P(StoreConformance, ParkAndWakeRacingNeverLeaveAJobParked) {
  // One job per iteration parks on its own key while another thread wakes that key, both let
  // go at the same moment: whichever commits second must see the other.
  constexpr int iterations = 2000;
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < iterations; ++i) specs.push_back(spec("race" + std::to_string(i), {"p"}));
  ASSERT_TRUE(db().submit(specs));
  auto jobs = claim("p", iterations, "node-a", 3'600'000);
  ASSERT_EQ(jobs.size(), static_cast<std::size_t>(iterations));
  std::barrier<> start{2};
  std::atomic<int> park_errors{0}, wake_errors{0};
  std::thread parker([&] {
    for (int i = 0; i < iterations; ++i) {
      start.arrive_and_wait();
      const auto& j = jobs[static_cast<std::size_t>(i)];
      if (db().park({j.id, j.lease_token}, "race:" + std::to_string(i), clock_->now() + 3'600'000))
        ++park_errors;
    }
  });
  std::thread waker([&] {
    for (int i = 0; i < iterations; ++i) {
      start.arrive_and_wait();
      if (!hooks().wake("race:" + std::to_string(i), "event " + std::to_string(i))) ++wake_errors;
    }
  });
  parker.join();
  waker.join();
  EXPECT_EQ(park_errors.load(), 0);
  EXPECT_EQ(wake_errors.load(), 0);
  auto depth = db().queue_depth();
  ASSERT_TRUE(depth);
  for (const auto& row : *depth)
    EXPECT_NE(row.state, storage::job_state::parked) << row.count << " job(s) stayed parked";
  auto woken = claim("p", iterations, "node-b");
  ASSERT_EQ(woken.size(), static_cast<std::size_t>(iterations));
  std::map<storage::job_id, int> index;
  for (int i = 0; i < iterations; ++i) index[jobs[static_cast<std::size_t>(i)].id] = i;
  for (const auto& j : woken) EXPECT_EQ(j.event, "event " + std::to_string(index[j.id]));
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, SimultaneousSubmissionsWithOneKeyAllGetTheRequestTheKeyCreated) {
  // Four callers submit the same keyed request at once (a client retrying through two routers,
  // say), host after host: one creates it, the others get it back; none is told the host is
  // busy with the very request its key created.
  constexpr int hosts = 40;
  constexpr int callers = 4;
  std::vector<std::vector<storage::submit_outcome>> got(
      hosts, std::vector<storage::submit_outcome>(callers));
  std::vector<std::string> errors;
  std::mutex mu;
  std::barrier start{callers};
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t)
    threads.emplace_back([&, t] {
      for (int h = 0; h < hosts; ++h) {
        auto s = spec("k" + std::to_string(h));
        s.idempotency_key = "key-" + std::to_string(h);
        s.fingerprint = "f";
        start.arrive_and_wait();
        auto out = db().submit({s});
        if (!out) {
          std::lock_guard<std::mutex> lock{mu};
          errors.push_back(message_of(out.error()));
          continue;
        }
        got[h][t] = out->at(0);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  for (int h = 0; h < hosts; ++h) {
    int created = 0;
    for (const auto& o : got[h]) {
      created += o.what == storage::submit_outcome::status::created ? 1 : 0;
      EXPECT_NE(o.what, storage::submit_outcome::status::host_busy)
          << "host k" << h << ": busy with request " << o.id << ", the one its key created";
      EXPECT_EQ(o.id, got[h][0].id) << "host k" << h;
    }
    EXPECT_EQ(created, 1) << "host k" << h;
  }
  storage::request_filter f;
  f.limit = 1000;
  EXPECT_EQ(db().requests(f)->items.size(), static_cast<std::size_t>(hosts));
}

}  // namespace ab::testing
