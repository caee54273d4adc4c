#include "bmc/ipmi_driver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "bmc/endpoint_policy.hpp"
#include "core/error.hpp"
#include "tests/bmc/target_for.hpp"
#include "tests/fakes/ipmi_sim.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::bmc {
namespace {

using namespace std::chrono_literals;
using testing::ipmi_sim_process;

/// A driver and a fresh simulated BMC for each test.
class IpmiDriver : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(sim.ok()) << sim.error(); }

  target bmc(std::chrono::milliseconds timeout = 10s) const {
    return target_for(sim.endpoint(), ipmi_sim_process::user, ipmi_sim_process::password, timeout);
  }

  bool called(const std::string& call) const {
    auto calls = sim.calls();
    return std::find(calls.begin(), calls.end(), call) != calls.end();
  }

  ipmi_sim_process sim;
  ipmi_driver driver;
};

TEST_F(IpmiDriver, ReportsThePowerStateTheChassisKeeps) {
  EXPECT_EQ(driver.power(bmc()), power_state::off);
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  EXPECT_EQ(sim.chassis("power"), "1");
  EXPECT_EQ(driver.power(bmc()), power_state::on);
}

TEST_F(IpmiDriver, ForceOffAndGracefulOffTurnThePowerOff) {
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  ASSERT_FALSE(driver.set_power(bmc(), power_action::off));
  EXPECT_EQ(sim.chassis("power"), "0");
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  ASSERT_FALSE(driver.set_power(bmc(), power_action::graceful_off));
  EXPECT_TRUE(called("set shutdown 1"));
  EXPECT_EQ(driver.power(bmc()), power_state::off);
}

TEST_F(IpmiDriver, ForceRestartResetsTheChassis) {
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  ASSERT_FALSE(driver.set_power(bmc(), power_action::force_restart));
  EXPECT_TRUE(called("set reset 1"));
  EXPECT_EQ(driver.power(bmc()), power_state::on);
}

TEST_F(IpmiDriver, PowerCycleTurnsThePowerOffThenOnAgain) {
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  ASSERT_FALSE(driver.set_power(bmc(), power_action::power_cycle));
  // ipmi_sim powers the chassis off at once and on again a second later.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto calls = sim.calls();
        auto off = std::find(calls.begin(), calls.end(), "set power 0");
        return off != calls.end() && std::find(off, calls.end(), "set power 1") != calls.end();
      },
      10s));
  EXPECT_EQ(driver.power(bmc()), power_state::on);
}

TEST_F(IpmiDriver, BootDeviceReachesTheChassis) {
  ASSERT_FALSE(driver.set_boot(bmc(), boot_device::pxe, true));
  EXPECT_EQ(sim.chassis("boot"), "pxe");
  ASSERT_FALSE(driver.set_boot(bmc(), boot_device::disk, false));
  EXPECT_EQ(sim.chassis("boot"), "default");
  ASSERT_FALSE(driver.set_boot(bmc(), boot_device::cd, true));
  EXPECT_EQ(sim.chassis("boot"), "cdrom");
}

TEST_F(IpmiDriver, ReadsManufacturerModelAndSerialFromTheFru) {
  auto found = driver.read_inventory(bmc());
  ASSERT_TRUE(found) << message_of(found.error());
  EXPECT_EQ(found->manufacturer, ipmi_sim_process::manufacturer);
  EXPECT_EQ(found->model, ipmi_sim_process::model);
  EXPECT_EQ(found->serial, ipmi_sim_process::serial);
}

TEST_F(IpmiDriver, AWrongPasswordIsUnauthenticatedWithTheBmcsReason) {
  auto t = bmc();
  t.password = "not-the-password";
  auto state = driver.power(t);
  ASSERT_FALSE(state);
  EXPECT_TRUE(is(state.error(), errc::unauthenticated)) << message_of(state.error());
  EXPECT_NE(message_of(state.error()).find("RAKP"), std::string::npos);
  EXPECT_EQ(message_of(state.error()).find("not-the-password"), std::string::npos);
  t = bmc();
  t.user = "nobody";
  EXPECT_TRUE(is(driver.set_power(t, power_action::on), errc::unauthenticated));
  EXPECT_EQ(sim.chassis("power"), "0");
}

TEST_F(IpmiDriver, AStoppedBmcIsUnavailableNamingTheEndpoint) {
  sim.stop();
  auto state = driver.power(bmc(2s));
  ASSERT_FALSE(state);
  EXPECT_TRUE(is(state.error(), errc::unavailable)) << message_of(state.error());
  EXPECT_NE(message_of(state.error()).find(sim.endpoint()), std::string::npos);
}

TEST_F(IpmiDriver, AHungBmcIsUnavailableAfterAboutTheTimeout) {
  sim.pause();
  auto start = std::chrono::steady_clock::now();
  auto err = driver.set_power(bmc(1500ms), power_action::on);
  auto took = std::chrono::steady_clock::now() - start;
  sim.resume();
  EXPECT_TRUE(is(err, errc::unavailable)) << message_of(err);
  EXPECT_NE(message_of(err).find(sim.endpoint()), std::string::npos);
  // A generous bound: the call must not wait for ipmitool's own retries (about 20 s).
  EXPECT_LT(took, 6s);
}

TEST_F(IpmiDriver, ManyThreadsShareOneDriver) {
  ASSERT_FALSE(driver.set_power(bmc(), power_action::on));
  std::vector<std::thread> threads;
  std::atomic<int> on{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 3; ++j)
        if (driver.power(bmc()) == power_state::on) ++on;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(on, 12);
}

TEST(IpmiDriverWithoutFru, InventoryIsAnInvalidArgument) {
  ipmi_sim_process sim{{.fru = false}};
  ASSERT_TRUE(sim.ok()) << sim.error();
  auto t = target_for(sim.endpoint(), ipmi_sim_process::user, ipmi_sim_process::password);
  auto found = ipmi_driver{}.read_inventory(t);
  ASSERT_FALSE(found);
  EXPECT_TRUE(is(found.error(), errc::invalid_argument)) << message_of(found.error());
}

TEST(IpmiDriverCapabilities, IpmiOffersNoMediaAndNoEraseInterface) {
  ipmi_driver driver;
  auto t = target_for("127.0.0.1:1", "admin", "secret");
  EXPECT_EQ(driver.name(), "ipmi");
  EXPECT_EQ(driver.media_interface(), nullptr);
  EXPECT_EQ(driver.erase_interface(), nullptr);
  EXPECT_EQ(driver.capabilities(),
            (capability_set{capability::power, capability::boot, capability::inventory}));
  // Within an interface it offers, a device IPMI has no name for is an invalid argument.
  auto err = driver.set_boot(t, boot_device::uefi_http, true);
  EXPECT_TRUE(is(err, errc::invalid_argument));
  EXPECT_NE(message_of(err).find("IPMI cannot"), std::string::npos);
}

TEST(IpmiDriverCapabilities, ThePasswordNeverReachesTheCommandLine) {
  auto t = target_for("10.1.2.3:6230", "admin", "top-secret");
  auto args = ipmi_driver::arguments(t, {"chassis", "power", "status"});
  EXPECT_EQ(std::find(args.begin(), args.end(), "top-secret"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "-E"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "6230"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "10.1.2.3"), args.end());
}

TEST_F(IpmiDriver, ResolvesAndChecksTheHostBeforeRunningIpmitool) {
  // The simulator listens on loopback: a node without bmc-allow-loopback never reaches it,
  // by number or by a name that resolves to it.
  auto t = bmc();
  auto port = t.endpoint.substr(t.endpoint.rfind(':'));
  endpoint_options strict;
  t.policy = *endpoint_policy::make(strict);
  for (const auto& e : {t.endpoint, "localhost" + port}) {
    t.endpoint = e;
    auto s = driver.power(t);
    ASSERT_FALSE(s) << e;
    EXPECT_TRUE(is(s.error(), errc::invalid_argument)) << message_of(s.error());
  }
  EXPECT_TRUE(sim.calls().empty()) << "ipmitool never ran against the refused address";
  endpoint_options lab;
  lab.allow_loopback = true;
  t.policy = *endpoint_policy::make(lab);
  t.endpoint = "localhost" + port;
  auto s = driver.power(t);
  EXPECT_TRUE(s) << message_of(s.error());
}

TEST(IpmiDriverCapabilities, AMissingIpmitoolIsABadConfigAndABadEndpointAnInvalidArgument) {
  auto t = target_for("127.0.0.1:623", "admin", "secret");
  EXPECT_TRUE(is(ipmi_driver{"/nonexistent/ipmitool"}.power(t).error(), errc::bad_config));
  t.endpoint = "-oProxyCommand=x";
  EXPECT_TRUE(is(ipmi_driver{}.power(t).error(), errc::invalid_argument));
}

}  // namespace
}  // namespace ab::bmc
