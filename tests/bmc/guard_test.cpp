#include "bmc/guard.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/fakes/manual_clock.hpp"

namespace {

using namespace ab;
using namespace std::chrono_literals;

/// A driver whose `power` answers `next` and records how many calls overlap.
class scripted_driver : public bmc::driver {
 public:
  std::string name() const override { return "scripted"; }

  caf::expected<bmc::power_state> power(const bmc::target&) override {
    auto now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(hold);
    --in_flight;
    ++calls;
    if (next) return next;
    return bmc::power_state::on;
  }
  caf::error set_power(const bmc::target&, bmc::power_action) override { return {}; }
  caf::error set_boot(const bmc::target&, bmc::boot_device, bool) override { return {}; }
  caf::error set_media(const bmc::target&, const std::string&) override { return {}; }
  caf::expected<bmc::inventory> read_inventory(const bmc::target&) override {
    return bmc::inventory{};
  }
  caf::expected<std::vector<bmc::erase_result>> erase_disks(const bmc::target&) override {
    return std::vector<bmc::erase_result>{};
  }

  caf::error next;
  std::chrono::milliseconds hold{0};
  std::atomic<int> in_flight{0}, most{0}, calls{0};
};

bmc::target bmc_at(const std::string& endpoint) {
  bmc::target t;
  t.endpoint = endpoint;
  t.timeout = 5s;
  return t;
}

TEST(GuardedDriver, OpensTheBreakerAfterConsecutiveFailuresAndFailsFast) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 3, 60s}, clock);
  inner->next = make_error(errc::unavailable, "refused");
  auto t = bmc_at("https://a");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(d.power(t));
  EXPECT_TRUE(is(d.power(t).error(), errc::unavailable));
  EXPECT_EQ(inner->calls, 3);
  // Other BMCs are not affected.
  EXPECT_FALSE(d.power(bmc_at("https://b")));
  EXPECT_EQ(inner->calls, 4);
}

TEST(GuardedDriver, LetsOneProbeThroughAfterTheCoolDownAndClosesOnSuccess) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  auto t = bmc_at("https://a");
  inner->next = make_error(errc::unavailable, "refused");
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(d.power(t));
  clock.advance(61'000);
  EXPECT_FALSE(d.power(t));  // the probe fails: open again
  EXPECT_EQ(inner->calls, 3);
  EXPECT_FALSE(d.power(t));
  EXPECT_EQ(inner->calls, 3);
  clock.advance(61'000);
  inner->next = caf::error{};
  EXPECT_TRUE(d.power(t));
  EXPECT_TRUE(d.power(t));
  EXPECT_EQ(inner->calls, 5);
}

TEST(GuardedDriver, TellsWhenAnOpenBreakerHalfOpens) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  auto t = bmc_at("https://a");
  EXPECT_EQ(d.available_at(t), 0) << "a BMC never called is available";
  inner->next = make_error(errc::unavailable, "refused");
  EXPECT_FALSE(d.power(t));
  EXPECT_EQ(d.available_at(t), 0) << "one failure does not open the breaker";
  EXPECT_FALSE(d.power(t));
  EXPECT_EQ(d.available_at(t), clock.now() + 60'000);
  clock.advance(60'001);
  EXPECT_LE(d.available_at(t), clock.now()) << "half-open: the next call probes";
  inner->next = caf::error{};
  EXPECT_TRUE(d.power(t));
  EXPECT_EQ(d.available_at(t), 0);
}

TEST(GuardedDriver, BadInputOrCredentialsDoNotTripTheBreaker) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  inner->next = make_error(errc::unauthenticated, "401");
  auto t = bmc_at("https://a");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(is(d.power(t).error(), errc::unauthenticated));
  EXPECT_EQ(inner->calls, 5);
}

TEST(GuardedDriver, SerializesCallsToOneBmcAndCapsCallsInFlight) {
  auto inner = std::make_shared<scripted_driver>();
  inner->hold = 20ms;
  manual_clock clock;
  bmc::guarded_driver one_bmc(inner, {64, 3, 60s}, clock);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] { EXPECT_TRUE(one_bmc.power(bmc_at("https://a"))); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(inner->most, 1);
  threads.clear();
  inner->most = 0;
  bmc::guarded_driver capped(inner, {2, 3, 60s}, clock);
  for (int i = 0; i < 6; ++i)
    threads.emplace_back(
        [&, i] { EXPECT_TRUE(capped.power(bmc_at("https://h" + std::to_string(i)))); });
  for (auto& th : threads) th.join();
  EXPECT_LE(inner->most, 2);
}

TEST(GuardedDriver, GivesUpWaitingForABusyBmcAfterTheTimeout) {
  auto inner = std::make_shared<scripted_driver>();
  inner->hold = 300ms;
  manual_clock clock;
  bmc::guarded_driver d(inner, {}, clock);
  auto slow = bmc_at("https://a");
  std::thread first([&] { EXPECT_TRUE(d.power(slow)); });
  while (inner->in_flight == 0) std::this_thread::sleep_for(1ms);
  auto impatient = bmc_at("https://a");
  impatient.timeout = 20ms;
  EXPECT_TRUE(is(d.power(impatient).error(), errc::unavailable));
  first.join();
}

TEST(GuardedDriver, TimesTheBreakerOnTheMonotonicClockSoAWallClockStepNeitherEndsNorStretchesIt) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 1, 60s}, clock);
  inner->next = make_error(errc::unavailable, "refused");
  auto t = bmc_at("https://a");
  EXPECT_FALSE(d.power(t));
  // The wall clock jumps two hours ahead (NTP, an operator): the cool-down has not passed.
  clock.step_wall(2 * 3600 * 1000);
  EXPECT_TRUE(is(d.power(t).error(), errc::unavailable));
  EXPECT_EQ(inner->calls, 1);
  EXPECT_EQ(d.available_at(t), clock.now() + 60000) << "answered in wall time";
  // And four hours back: the cool-down ends when it would have anyway.
  clock.step_wall(-4 * 3600 * 1000);
  clock.advance(59999);
  EXPECT_TRUE(is(d.power(t).error(), errc::unavailable));
  EXPECT_EQ(d.available_at(t), clock.now() + 1);
  clock.advance(1);
  inner->next = {};
  EXPECT_TRUE(d.power(t));
  EXPECT_EQ(inner->calls, 2);
}

}  // namespace
