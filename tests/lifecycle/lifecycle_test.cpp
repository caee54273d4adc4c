// The host lifecycle: the transition table and the workflow table.

#include "lifecycle/lifecycle.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "lifecycle/workflows.hpp"

namespace ab::lifecycle {
namespace {

TEST(Lifecycle, EveryStateHasOneNameThatReadsBack) {
  for (auto s : every_state()) EXPECT_EQ(state_named(to_string(s)), s) << to_string(s);
  EXPECT_EQ(to_string(state::new_), "new");
  EXPECT_EQ(every_state().size(), 10u);
  EXPECT_FALSE(state_named("retired"));
}

TEST(Lifecycle, EveryHardwareActionHasATransitionAndSimulatedOnesHaveNone) {
  for (const auto& [action, steps] : workflows()) {
    const auto* t = transition_of(action);
    if (action.rfind("sim.", 0) == 0) {
      EXPECT_EQ(t, nullptr) << action;
      continue;
    }
    ASSERT_NE(t, nullptr) << action;
    EXPECT_FALSE(t->from.empty()) << action;
    // An action that changes the state while active says where it ends either way.
    if (t->during) {
      EXPECT_TRUE(t->on_success && t->on_failure) << action;
    }
  }
  EXPECT_EQ(transition_of("fly"), nullptr);
}

TEST(Lifecycle, NoActionIsAllowedOnADecommissionedHost) {
  for (const auto& [action, steps] : workflows()) {
    if (const auto* t = transition_of(action)) {
      EXPECT_EQ(std::count(t->from.begin(), t->from.end(), state::decommissioned), 0) << action;
    }
  }
}

TEST(Lifecycle, ProvisioningEndsInServiceOrFailed) {
  const auto* t = transition_of("reimage");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->during, state::provisioning);
  EXPECT_EQ(t->on_success, state::in_service);
  EXPECT_EQ(t->on_failure, state::provisioning_failed);
  EXPECT_EQ(transition_of("decommission")->on_success, state::decommissioned);
  EXPECT_EQ(transition_of("wipe")->on_success, state::ready);
  EXPECT_FALSE(transition_of("discover")->during) << "discovery leaves the state while active";
  EXPECT_FALSE(transition_of("power_on")->on_success);
}

TEST(Workflows, EveryJobTypeOfEveryChainSaysWhatItNeedsOfTheBmc) {
  for (const auto& [action, steps] : workflows())
    for (const auto& s : steps) EXPECT_TRUE(job_types().count(s.type)) << action << ": " << s.type;
}

TEST(Workflows, AnActionNeedsWhatItsJobTypesNeed) {
  using bmc::capability;
  EXPECT_EQ(needs_of("reimage"),
            (bmc::capability_set{capability::power, capability::boot, capability::media}));
  EXPECT_EQ(needs_of("build"), needs_of("reimage"));
  EXPECT_EQ(needs_of("discover"), (bmc::capability_set{capability::inventory, capability::power}));
  EXPECT_EQ(needs_of("wipe"), (bmc::capability_set{capability::power, capability::erase}));
  EXPECT_EQ(needs_of("power_on"), bmc::capability_set{capability::power});
  EXPECT_TRUE(needs_of("sim.chain").empty());
  EXPECT_TRUE(needs_of("fly").empty());
}

TEST(Workflows, TheChainOfAnActionFollowsItsSteps) {
  auto chain = chain_of("wipe");
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].type, "power_off");
  EXPECT_EQ(chain[1].type, "erase");
  EXPECT_EQ(chain[1].max_attempts, 3);
  EXPECT_TRUE(chain_of("fly").empty());
}

}  // namespace
}  // namespace ab::lifecycle
