// Confirmations of destructive bulk calls.

#include "lifecycle/quotas.hpp"

#include <gtest/gtest.h>

namespace ab::lifecycle {
namespace {

TEST(Confirmations, OnlyDestructiveActionsCount) {
  for (const char* a : {"reimage", "wipe", "decommission", "power_off", "ipmi_reboot"})
    EXPECT_TRUE(destructive(a)) << a;
  for (const char* a : {"discover", "build", "power_on", "sim.chain", ""})
    EXPECT_FALSE(destructive(a)) << a;
}

TEST(Confirmations, ABulkCallAboveTheThresholdMustConfirmItsExactCount) {
  EXPECT_FALSE(confirmation_refusal("reimage", 10, std::nullopt, 10));
  auto missing = confirmation_refusal("reimage", 11, std::nullopt, 10);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("\"confirm_hosts\": 11"), std::string::npos) << *missing;
  auto wrong = confirmation_refusal("wipe", 25, 20, 10);
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->find("is 20 but the call names 25"), std::string::npos) << *wrong;
  EXPECT_FALSE(confirmation_refusal("wipe", 25, 25, 10));
  // Not destructive: no confirmation, however many hosts.
  EXPECT_FALSE(confirmation_refusal("power_on", 5000, std::nullopt, 10));
  // A threshold of 0: every destructive call confirms.
  EXPECT_TRUE(confirmation_refusal("power_off", 1, std::nullopt, 0));
}

}  // namespace
}  // namespace ab::lifecycle
