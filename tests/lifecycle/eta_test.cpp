// The turnaround estimate as a pure function: queue position, capacity and throughput, the
// range, running and late requests, and the history it summarises.

#include "lifecycle/eta.hpp"

#include <gtest/gtest.h>

namespace ab::lifecycle {

namespace {

constexpr time_ms now = 1'700'000'000'000;
constexpr time_ms minute = 60 * 1000;

/// An outlook of runs of exactly `run` ms, `capacity` at once, `running` now.
action_outlook steady(time_ms run, std::int64_t capacity, std::int64_t running) {
  action_outlook o;
  o.run = summarise(std::vector<time_ms>(20, run));
  o.capacity = capacity;
  o.running = running;
  return o;
}

eta_request queued(std::int64_t ahead) {
  eta_request r;
  r.ahead = ahead;
  r.jobs_total = 5;
  return r;
}

}  // namespace

TEST(Eta, SummariseTakesNearestRankQuantilesAndTheMean) {
  auto s = summarise({50, 10, 40, 20, 30, 60, 70, 80, 90, 100});
  EXPECT_EQ(s.samples, 10u);
  EXPECT_EQ(s.p10, 10);
  EXPECT_EQ(s.median, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.mean, 55.0);
  EXPECT_EQ(summarise({}).samples, 0u);
}

TEST(Eta, MaxOverlapCountsRunsAtOnceAndEndsBeforeStartsAtOneInstant) {
  EXPECT_EQ(max_overlap({}), 0);
  EXPECT_EQ(max_overlap({{0, 10}, {10, 20}, {20, 30}}), 1);
  EXPECT_EQ(max_overlap({{0, 10}, {5, 15}, {6, 7}, {20, 30}}), 3);
  // A run that ends before it starts is not counted.
  EXPECT_EQ(max_overlap({{10, 5}}), 0);
}

TEST(Eta, AQueuedRequestWithRoomStartsAtOnce) {
  auto e = estimate_completion(queued(0), steady(4 * minute, 8, 2), now, 10 * minute);
  EXPECT_EQ(e.at, now + 4 * minute);
  EXPECT_EQ(e.basis, "measured");
  // Six free slots: the sixth queued request still starts at once; the seventh waits.
  EXPECT_EQ(estimate_completion(queued(5), steady(4 * minute, 8, 2), now, 0).at, now + 4 * minute);
  EXPECT_GT(estimate_completion(queued(6), steady(4 * minute, 8, 2), now, 0).at, now + 4 * minute);
}

TEST(Eta, ThePlaceInTheQueueAndTheThroughputSetTheWait) {
  // 8 at once, 4 minutes each: 2 per minute. 15 ahead of a full cluster: 16 must finish
  // first, 8 minutes, then its own 4.
  auto o = steady(4 * minute, 8, 8);
  EXPECT_EQ(estimate_completion(queued(15), o, now, 0).at, now + 12 * minute);
  // Twice the capacity halves the wait.
  EXPECT_EQ(estimate_completion(queued(15), steady(4 * minute, 16, 16), now, 0).at,
            now + 8 * minute);
  // Further back is later.
  EXPECT_LT(estimate_completion(queued(15), o, now, 0).at,
            estimate_completion(queued(16), o, now, 0).at);
}

TEST(Eta, RunningNowCountsAsCapacityWhenHistoryShowedLess) {
  auto o = steady(4 * minute, 2, 8);
  EXPECT_EQ(estimate_completion(queued(15), o, now, 0).at, now + 12 * minute);
}

TEST(Eta, TheRangeHoldsTheEstimate) {
  action_outlook o;
  o.run = summarise({2 * minute, 3 * minute, 4 * minute, 4 * minute, 5 * minute, 8 * minute});
  o.capacity = 4;
  o.running = 4;
  for (std::int64_t ahead : {0, 3, 40}) {
    auto e = estimate_completion(queued(ahead), o, now, 0);
    EXPECT_LE(e.earliest, e.at);
    EXPECT_GE(e.latest, e.at);
    EXPECT_GT(e.latest, e.earliest);
    EXPECT_GE(e.earliest, now);
  }
}

TEST(Eta, WithoutHistoryTheAssumedDurationIsUsedAndSaid) {
  action_outlook o;
  auto e = estimate_completion(queued(0), o, now, 10 * minute);
  EXPECT_EQ(e.basis, "assumed");
  EXPECT_EQ(e.at, now + 10 * minute);
  // Nothing running and nothing known: one at a time.
  EXPECT_EQ(estimate_completion(queued(2), o, now, 10 * minute).at, now + 30 * minute);
}

TEST(Eta, ARunningRequestFinishesAMedianRunAfterItStarted) {
  eta_request r;
  r.started = true;
  r.started_at = now - minute;
  r.jobs_total = 4;
  r.jobs_done = 1;
  auto e = estimate_completion(r, steady(4 * minute, 8, 8), now, 0);
  EXPECT_EQ(e.at, now + 3 * minute);
  EXPECT_LE(e.earliest, e.at);
  EXPECT_GE(e.latest, e.at);
}

TEST(Eta, ALateRunningRequestIsEstimatedFromNowAndItsUndoneSteps) {
  eta_request r;
  r.started = true;
  r.started_at = now - 10 * minute;
  r.jobs_total = 4;
  r.jobs_done = 2;
  auto e = estimate_completion(r, steady(4 * minute, 8, 8), now, 0);
  EXPECT_GT(e.at, now);
  EXPECT_EQ(e.earliest, now);
  // Half the steps left of a 4-minute run: at most 2 minutes more.
  EXPECT_EQ(e.latest, now + 2 * minute);
  EXPECT_LE(e.at, e.latest);
}

TEST(Eta, DrainTimeIsTheEstimateOfTheLastQueuedRequest) {
  auto o = steady(4 * minute, 8, 8);
  o.queued = 16;
  EXPECT_EQ(drain_time(o, now, 0), 12 * minute);
  o.queued = 0;
  EXPECT_EQ(drain_time(o, now, 0), 0);
}

}  // namespace ab::lifecycle
