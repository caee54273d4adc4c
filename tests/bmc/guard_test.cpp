#include "bmc/guard.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/fakes/manual_clock.hpp"

namespace {

using namespace ab;
using namespace std::chrono_literals;

/// A driver with power and inventory interfaces (no boot, media, erase) whose calls answer
/// `next` and record how many overlap.
class scripted_driver : public bmc::driver,
                        public bmc::power_control,
                        public bmc::inventory_reader {
 public:
  std::string name() const override { return "scripted"; }
  bmc::power_control* power_interface() override { return this; }
  bmc::inventory_reader* inventory_interface() override { return this; }

  caf::expected<bmc::power_state> power(const bmc::target&) override {
    if (auto err = call()) return err;
    return bmc::power_state::on;
  }
  caf::error set_power(const bmc::target&, bmc::power_action) override { return call(); }
  caf::expected<bmc::inventory> read_inventory(const bmc::target&) override {
    if (auto err = call()) return err;
    return bmc::inventory{};
  }

  caf::error call() {
    auto now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(hold);
    --in_flight;
    ++calls;
    return next;
  }

  caf::error next;
  std::chrono::milliseconds hold{0};
  std::atomic<int> in_flight{0}, most{0}, calls{0};
};

/// The power state through the guarded power interface.
caf::expected<bmc::power_state> power(bmc::driver& d, const bmc::target& t) {
  return d.power_interface()->power(t);
}

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
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(power(d, t));
  EXPECT_TRUE(is(power(d, t).error(), errc::unavailable));
  EXPECT_EQ(inner->calls, 3);
  // Other BMCs are not affected.
  EXPECT_FALSE(power(d, bmc_at("https://b")));
  EXPECT_EQ(inner->calls, 4);
}

TEST(GuardedDriver, LetsOneProbeThroughAfterTheCoolDownAndClosesOnSuccess) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  auto t = bmc_at("https://a");
  inner->next = make_error(errc::unavailable, "refused");
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(power(d, t));
  clock.advance(61'000);
  EXPECT_FALSE(power(d, t));  // the probe fails: open again
  EXPECT_EQ(inner->calls, 3);
  EXPECT_FALSE(power(d, t));
  EXPECT_EQ(inner->calls, 3);
  clock.advance(61'000);
  inner->next = caf::error{};
  EXPECT_TRUE(power(d, t));
  EXPECT_TRUE(power(d, t));
  EXPECT_EQ(inner->calls, 5);
}

TEST(GuardedDriver, TellsWhenAnOpenBreakerHalfOpens) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  auto t = bmc_at("https://a");
  EXPECT_EQ(d.available_at(t), 0) << "a BMC never called is available";
  inner->next = make_error(errc::unavailable, "refused");
  EXPECT_FALSE(power(d, t));
  EXPECT_EQ(d.available_at(t), 0) << "one failure does not open the breaker";
  EXPECT_FALSE(power(d, t));
  EXPECT_EQ(d.available_at(t), clock.now() + 60'000);
  clock.advance(60'001);
  EXPECT_LE(d.available_at(t), clock.now()) << "half-open: the next call probes";
  inner->next = caf::error{};
  EXPECT_TRUE(power(d, t));
  EXPECT_EQ(d.available_at(t), 0);
}

TEST(GuardedDriver, BadInputOrCredentialsDoNotTripTheBreaker) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  inner->next = make_error(errc::unauthenticated, "401");
  auto t = bmc_at("https://a");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(is(power(d, t).error(), errc::unauthenticated));
  EXPECT_EQ(inner->calls, 5);
}

TEST(GuardedDriver, SerializesCallsToOneBmcAndCapsCallsInFlight) {
  auto inner = std::make_shared<scripted_driver>();
  inner->hold = 20ms;
  manual_clock clock;
  bmc::guarded_driver one_bmc(inner, {64, 3, 60s}, clock);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] { EXPECT_TRUE(power(one_bmc, bmc_at("https://a"))); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(inner->most, 1);
  threads.clear();
  inner->most = 0;
  bmc::guarded_driver capped(inner, {2, 3, 60s}, clock);
  for (int i = 0; i < 6; ++i)
    threads.emplace_back(
        [&, i] { EXPECT_TRUE(power(capped, bmc_at("https://h" + std::to_string(i)))); });
  for (auto& th : threads) th.join();
  EXPECT_LE(inner->most, 2);
}

TEST(GuardedDriver, GivesUpWaitingForABusyBmcAfterTheTimeout) {
  auto inner = std::make_shared<scripted_driver>();
  inner->hold = 300ms;
  manual_clock clock;
  bmc::guarded_driver d(inner, {}, clock);
  auto slow = bmc_at("https://a");
  std::thread first([&] { EXPECT_TRUE(power(d, slow)); });
  while (inner->in_flight == 0) std::this_thread::sleep_for(1ms);
  auto impatient = bmc_at("https://a");
  impatient.timeout = 20ms;
  EXPECT_TRUE(is(power(d, impatient).error(), errc::unavailable));
  first.join();
}

TEST(GuardedDriver, TimesTheBreakerOnTheMonotonicClockSoAWallClockStepNeitherEndsNorStretchesIt) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 1, 60s}, clock);
  inner->next = make_error(errc::unavailable, "refused");
  auto t = bmc_at("https://a");
  EXPECT_FALSE(power(d, t));
  // The wall clock jumps two hours ahead (NTP, an operator): the cool-down has not passed.
  clock.step_wall(2 * 3600 * 1000);
  EXPECT_TRUE(is(power(d, t).error(), errc::unavailable));
  EXPECT_EQ(inner->calls, 1);
  EXPECT_EQ(d.available_at(t), clock.now() + 60000) << "answered in wall time";
  // And four hours back: the cool-down ends when it would have anyway.
  clock.step_wall(-4 * 3600 * 1000);
  clock.advance(59999);
  EXPECT_TRUE(is(power(d, t).error(), errc::unavailable));
  EXPECT_EQ(d.available_at(t), clock.now() + 1);
  clock.advance(1);
  inner->next = {};
  EXPECT_TRUE(power(d, t));
  EXPECT_EQ(inner->calls, 2);
}

TEST(GuardedDriver, OffersAGuardedInterfaceForEachInterfaceOfTheInnerDriverAndNoOther) {
  auto inner = std::make_shared<scripted_driver>();
  manual_clock clock;
  bmc::guarded_driver d(inner, {}, clock);
  EXPECT_EQ(d.capabilities(),
            (bmc::capability_set{bmc::capability::power, bmc::capability::inventory}));
  EXPECT_EQ(d.boot_interface(), nullptr);
  EXPECT_EQ(d.media_interface(), nullptr);
  EXPECT_EQ(d.erase_interface(), nullptr);
  // Guarded, not the inner driver's own interfaces handed out.
  EXPECT_NE(d.power_interface(), inner->power_interface());
  EXPECT_NE(d.inventory_interface(), inner->inventory_interface());
}

TEST(GuardedDriver, EveryInterfaceSharesOneTurnAndOneBreakerPerBmc) {
  auto inner = std::make_shared<scripted_driver>();
  inner->hold = 20ms;
  manual_clock clock;
  bmc::guarded_driver d(inner, {64, 2, 60s}, clock);
  auto t = bmc_at("https://a");
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      if (i % 2)
        EXPECT_TRUE(power(d, t));
      else
        EXPECT_TRUE(d.inventory_interface()->read_inventory(t));
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(inner->most, 1) << "a power call and an inventory read never overlap on one BMC";
  inner->hold = 0ms;
  inner->next = make_error(errc::unavailable, "refused");
  EXPECT_TRUE(is(d.power_interface()->set_power(t, bmc::power_action::on), errc::unavailable));
  EXPECT_FALSE(d.inventory_interface()->read_inventory(t));
  auto calls = inner->calls.load();
  // Opened by failures through two interfaces, the breaker refuses a third call at once.
  EXPECT_TRUE(is(power(d, t).error(), errc::unavailable));
  EXPECT_EQ(inner->calls, calls);
}

}  // namespace
