// The resilience guard around BMC drivers: one operation per BMC, a global cap, a circuit
// breaker per BMC.

#include "bmc/guard.hpp"

#include <atomic>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace ab::bmc {
namespace {

/// A driver whose power() takes a while and counts concurrency, per BMC and in all.
class slow_driver final : public driver {
 public:
  std::string name() const override { return "fake"; }
  caf::expected<power_state> power(const target& t) override {
    enter(t);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    leave(t);
    if (failing.load()) return make_error(errc::unavailable, t.endpoint + ": connection refused");
    return power_state::on;
  }
  caf::error set_power(const target& t, power_action) override {
    ++calls;
    return failing.load() ? make_error(errc::unavailable, "down") : caf::error{};
  }
  caf::error set_boot(const target&, boot_device, bool) override { return {}; }
  caf::error set_media(const target&, const std::string&) override { return {}; }
  caf::expected<inventory> read_inventory(const target&) override { return inventory{}; }
  caf::expected<std::vector<erase_result>> erase_disks(const target&) override {
    return make_error(errc::unauthenticated, "wrong password");
  }

  std::atomic<bool> failing{false};
  std::atomic<int> calls{0};
  std::atomic<int> total_now{0}, total_max{0};
  std::mutex m;
  std::map<std::string, int> per_bmc_now, per_bmc_max;

 private:
  void enter(const target& t) {
    ++calls;
    auto n = ++total_now;
    for (int seen = total_max; n > seen && !total_max.compare_exchange_weak(seen, n);) {
    }
    std::lock_guard lock{m};
    per_bmc_max[t.endpoint] = std::max(per_bmc_max[t.endpoint], ++per_bmc_now[t.endpoint]);
  }
  void leave(const target& t) {
    --total_now;
    std::lock_guard lock{m};
    --per_bmc_now[t.endpoint];
  }
};

target at(const std::string& endpoint) {
  target t;
  t.endpoint = endpoint;
  t.timeout = std::chrono::seconds(10);
  return t;
}

TEST(Guard, OneOperationAtATimePerBmcAndAGlobalCap) {
  auto inner = std::make_shared<slow_driver>();
  guarded_driver g(inner, {3, 5, std::chrono::milliseconds{1000}});
  std::vector<std::future<caf::expected<power_state>>> calls;
  for (int i = 0; i < 24; ++i)
    calls.push_back(std::async(std::launch::async, [&, i] {
      return g.power(at("https://bmc-" + std::to_string(i % 6)));
    }));
  for (auto& c : calls) EXPECT_TRUE(c.get());
  for (const auto& [bmc, n] : inner->per_bmc_max) EXPECT_EQ(n, 1) << bmc;
  EXPECT_LE(inner->total_max.load(), 3);
  EXPECT_GE(inner->total_max.load(), 2) << "different BMCs do run in parallel";
}

TEST(Guard, ACircuitOpensAfterRepeatedFailuresFailsFastAndClosesAfterASuccessfulTrial) {
  auto inner = std::make_shared<slow_driver>();
  auto clk = std::make_shared<manual_clock>();
  guarded_driver g(inner, {16, 3, std::chrono::milliseconds{5000}}, clk);
  auto dead = at("https://dead");
  inner->failing = true;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is(g.set_power(dead, power_action::on), errc::unavailable));
  EXPECT_TRUE(g.circuit_open("https://dead"));
  EXPECT_FALSE(g.circuit_open("https://other"));
  auto before = inner->calls.load();
  auto refused = g.set_power(dead, power_action::on);
  EXPECT_TRUE(is(refused, errc::unavailable));
  EXPECT_NE(message_of(refused).find("not tried again"), std::string::npos);
  EXPECT_EQ(inner->calls.load(), before) << "an open circuit does not call the BMC";
  // Other BMCs are still tried (this one fails too, on its own account: one more call).
  EXPECT_TRUE(is(g.set_power(at("https://other"), power_action::on), errc::unavailable));
  // After the cool-down one trial goes through; it fails, so the circuit opens again at once.
  clk->advance(5000);
  EXPECT_TRUE(is(g.set_power(dead, power_action::on), errc::unavailable));
  EXPECT_EQ(inner->calls.load(), before + 2);
  EXPECT_TRUE(g.circuit_open("https://dead"));
  // The BMC comes back: the next trial succeeds and closes the circuit.
  clk->advance(5000);
  inner->failing = false;
  EXPECT_FALSE(g.set_power(dead, power_action::on));
  EXPECT_FALSE(g.circuit_open("https://dead"));
}

TEST(Guard, ErrorsThatAreNotTheBmcsFaultDoNotOpenTheCircuit) {
  auto inner = std::make_shared<slow_driver>();
  guarded_driver g(inner, {16, 2, std::chrono::milliseconds{5000}});
  for (int i = 0; i < 5; ++i) {
    auto r = g.erase_disks(at("https://bmc"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(is(r.error(), errc::unauthenticated));
  }
  EXPECT_FALSE(g.circuit_open("https://bmc"));
  EXPECT_TRUE(g.read_inventory(at("https://bmc")));
}

}  // namespace
}  // namespace ab::bmc
