// The host lifecycle transition table.

#include "lifecycle/lifecycle.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "lifecycle/workflows.hpp"

namespace ab::actors {
namespace {

TEST(Lifecycle, EveryHardwareActionHasATransitionOverKnownStates) {
  const auto& states = lifecycle_states();
  auto known = [&](const std::string& s) {
    return s.empty() || std::find(states.begin(), states.end(), s) != states.end();
  };
  for (const auto& [action, steps] : workflows()) {
    auto t = transition_of(action);
    if (action.rfind("sim.", 0) == 0) {
      EXPECT_FALSE(t) << action;
      continue;
    }
    ASSERT_TRUE(t) << action;
    for (const auto& s : t->from) EXPECT_TRUE(known(s)) << action << " from " << s;
    EXPECT_TRUE(known(t->during) && known(t->on_success) && known(t->on_failure)) << action;
  }
}

TEST(Lifecycle, RefusesActionsOutsideTheirStatesWithTheReason) {
  struct row {
    const char* action;
    const char* state;
    bool allowed;
  };
  const row rows[] = {
      {"discover", "new", true},
      {"discover", "in_service", false},
      {"build", "ready", true},
      {"build", "discovered", true},
      {"build", "new", false},
      {"build", "in_service", false},
      {"reimage", "in_service", true},
      {"reimage", "provisioning_failed", true},
      {"reimage", "ready", false},
      {"wipe", "in_service", true},
      {"wipe", "new", false},
      {"power_on", "new", true},
      {"power_off", "wiping", true},
      {"ipmi_reboot", "in_service", true},
      {"power_on", "decommissioned", false},
      {"decommission", "in_service", true},
      {"decommission", "decommissioned", false},
      {"sim.chain", "decommissioned", true},
  };
  for (const auto& r : rows) {
    auto why = refusal(r.action, r.state);
    EXPECT_EQ(!why.has_value(), r.allowed) << r.action << " on " << r.state;
    if (why) {
      EXPECT_NE(why->find(r.state), std::string::npos) << *why;
    }
  }
}

TEST(Lifecycle, ProvisioningEndsInServiceOrFailed) {
  auto t = transition_of("reimage");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->during, "provisioning");
  EXPECT_EQ(t->on_success, "in_service");
  EXPECT_EQ(t->on_failure, "provisioning_failed");
  EXPECT_EQ(transition_of("decommission")->on_success, "decommissioned");
  EXPECT_EQ(transition_of("wipe")->on_success, "ready");
}

}  // namespace
}  // namespace ab::actors
