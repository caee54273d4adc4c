// The simulated BMC's state rules and fault options, without a network.

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "bmcsim/bmc_state.hpp"
#include "bmcsim/faults.hpp"

namespace {

using namespace ab::bmc::sim;

TEST(BmcState, PowerIsOnOnlyOnceTheResetTimeHasCome) {
  auto b = make_bmc("h1");
  ASSERT_TRUE(reset(b, "On", 1000, 500));
  settle(b, 1499);
  EXPECT_EQ(power_state(b), "PoweringOn");
  settle(b, 1500);
  EXPECT_EQ(power_state(b), "On");
  ASSERT_EQ(b.boots.size(), 1U);
  EXPECT_EQ(b.boots[0].target, "Hdd");
  EXPECT_FALSE(reset(b, "Explode", 2000, 0));
}

TEST(BmcState, AOneTimeCdOverrideBootsTheImageOnceAndIsThenDisabled) {
  auto b = make_bmc("h1");
  b.boot_target = "Cd";
  b.boot_enabled = "Once";
  b.media_image = "http://repo/os.iso";
  b.media_inserted = true;
  reset(b, "ForceRestart", 0, 0);
  settle(b, 0);
  reset(b, "PowerCycle", 10, 0);
  settle(b, 10);
  ASSERT_EQ(b.boots.size(), 2U);
  EXPECT_EQ(b.boots[0].image, "http://repo/os.iso");
  EXPECT_EQ(b.boots[1].target, "Hdd");
  EXPECT_EQ(b.boot_enabled, "Disabled");
}

TEST(BmcState, PushPowerButtonTogglesAndOffIsIdempotent) {
  auto b = make_bmc("h1");
  reset(b, "ForceOff", 0, 100);
  EXPECT_EQ(power_state(b), "Off");
  reset(b, "PushPowerButton", 0, 100);
  EXPECT_EQ(power_state(b), "PoweringOn");
  reset(b, "PushPowerButton", 50, 100);
  EXPECT_EQ(power_state(b), "PoweringOff");
}

TEST(BmcState, IdentitiesOfTwentyThousandIdsAreDistinct) {
  std::set<std::string> serials;
  std::set<std::string> uuids;
  std::set<std::string> macs;
  for (int n = 0; n < 20000; ++n) {
    auto id = identity_of("sim-" + std::to_string(n));
    serials.insert(id.serial);
    uuids.insert(id.uuid);
    macs.insert(id.mac(0));
    macs.insert(id.mac(1));
  }
  EXPECT_EQ(serials.size(), 20000U);
  EXPECT_EQ(uuids.size(), 20000U);
  EXPECT_EQ(macs.size(), 40000U);
  auto mac = identity_of("h1").mac(0);
  EXPECT_EQ(std::stoi(mac.substr(0, 2), nullptr, 16) & 0x3, 0x2) << mac;
}

TEST(Faults, ParsesFleetAndPerBmcSpecs) {
  auto fleet = parse_fault_spec("error_rate=0.25,latency_ms=40");
  ASSERT_TRUE(fleet);
  EXPECT_TRUE(fleet->bmc_id.empty());
  EXPECT_DOUBLE_EQ(fleet->faults.error_rate, 0.25);
  EXPECT_EQ(fleet->faults.latency_ms, 40);
  auto one = parse_fault_spec("sim-0003:hang=true,drop=false");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->bmc_id, "sim-0003");
  EXPECT_TRUE(one->faults.hang);
  EXPECT_FALSE(parse_fault_spec("error_rate=2"));
  EXPECT_FALSE(parse_fault_spec("frobnicate=1"));
  EXPECT_FALSE(parse_fault_spec("hang"));
}

}  // namespace
