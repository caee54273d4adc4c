// The lifecycle's rules: the one answer to "may this action run on this host, and what does
// its request do".

#include "lifecycle/rules.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "lifecycle/workflows.hpp"

namespace ab::lifecycle {
namespace {

using bmc::capability;
using bmc::capability_set;

storage::host_record host_in(const std::string& state, const std::string& endpoint = "") {
  storage::host_record h;
  h.name = "r1-01";
  h.site = "dc1";
  h.bmc_endpoint = endpoint.empty() ? "https://bmc-r1-01" : endpoint;
  h.lifecycle_state = state;
  return h;
}

/// Rules whose capability lookup offers what `offered` says per endpoint scheme.
rules with_bmcs(capability_set redfish, capability_set ipmi) {
  rules_options o;
  o.capabilities = [=](const storage::host_record& h) -> caf::expected<capability_set> {
    if (h.bmc_endpoint.rfind("https://", 0) == 0) return redfish;
    if (h.bmc_endpoint.rfind("ipmi://", 0) == 0) return ipmi;
    return make_error(errc::invalid_argument, "no BMC driver serves the endpoint's scheme");
  };
  return rules(o);
}

const capability_set ipmi_caps{capability::power, capability::boot, capability::inventory};

TEST(LifecycleRules, AllowsActionsOnlyFromTheirStatesWithTheReason) {
  struct row {
    const char* action;
    const char* state;
    bool allowed;
  };
  const row rows[] = {
      {"discover", "new", true},
      {"discover", "discovery_failed", true},
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
  rules r;
  for (const auto& row : rows) {
    auto p = r.plan(row.action, host_in(row.state));
    EXPECT_EQ(bool(p), row.allowed) << row.action << " on " << row.state;
    if (!p) {
      EXPECT_TRUE(is(p.error(), errc::invalid_state)) << message_of(p.error());
      EXPECT_NE(message_of(p.error()).find("host 'r1-01'"), std::string::npos);
      EXPECT_NE(message_of(p.error()).find(row.state), std::string::npos);
    }
  }
}

TEST(LifecycleRules, SaysWhichStatesAnActionIsAllowedFrom) {
  auto p = rules{}.plan("reimage", host_in("new"));
  ASSERT_FALSE(p);
  EXPECT_NE(message_of(p.error()).find(
                "reimage is not allowed on a host in state new (only from in_service, "
                "provisioning_failed)"),
            std::string::npos)
      << message_of(p.error());
}

TEST(LifecycleRules, APlanCarriesTheChainAndTheStatesItMovesTheHostThrough) {
  auto p = rules{}.plan("reimage", host_in("in_service"));
  ASSERT_TRUE(p) << message_of(p.error());
  ASSERT_EQ(p->chain.size(), chain_of("reimage").size());
  EXPECT_EQ(p->chain.front().type, "power_off");
  EXPECT_EQ(p->from, state::in_service);
  EXPECT_EQ(p->during, state::provisioning);
  EXPECT_EQ(p->on_success, state::in_service);
  EXPECT_EQ(p->on_failure, state::provisioning_failed);
  EXPECT_EQ(p->on_withdrawal, state::in_service) << "cancelled unstarted: as it was";
  storage::request_spec s;
  p->apply_to(s);
  EXPECT_EQ(s.chain.size(), p->chain.size());
  EXPECT_EQ(s.host_state_from, "in_service");
  EXPECT_EQ(s.host_state_during, "provisioning");
  EXPECT_EQ(s.host_state_on_success, "in_service");
  EXPECT_EQ(s.host_state_on_failure, "provisioning_failed");
  EXPECT_EQ(s.host_state_on_withdrawal, "in_service");
}

TEST(LifecycleRules, AnActionThatLeavesTheStateAloneChangesNone) {
  auto p = rules{}.plan("power_on", host_in("ready"));
  ASSERT_TRUE(p);
  storage::request_spec s;
  p->apply_to(s);
  EXPECT_EQ(s.host_state_from, "ready");
  EXPECT_EQ(s.host_state_during, "");
  EXPECT_EQ(s.host_state_on_success, "");
  EXPECT_EQ(s.host_state_on_withdrawal, "");
  // Discovery: unchanged while active, but it ends discovered or failed.
  auto d = rules{}.plan("discover", host_in("new"));
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->during);
  EXPECT_FALSE(d->on_withdrawal);
  EXPECT_EQ(d->on_failure, state::discovery_failed);
}

TEST(LifecycleRules, RefusesWhatTheHostsBmcCannotDoBeforeAnythingStarts) {
  auto r = with_bmcs(capability_set::all(), ipmi_caps);
  auto refused = r.plan("reimage", host_in("in_service", "ipmi://10.0.0.5"));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(is(refused.error(), errc::unsupported_by_bmc)) << message_of(refused.error());
  EXPECT_NE(message_of(refused.error()).find("media"), std::string::npos)
      << message_of(refused.error());
  EXPECT_TRUE(
      is(r.plan("wipe", host_in("ready", "ipmi://10.0.0.5")).error(), errc::unsupported_by_bmc));
  // What IPMI can do, it may.
  EXPECT_TRUE(r.plan("discover", host_in("new", "ipmi://10.0.0.5")));
  EXPECT_TRUE(r.plan("ipmi_reboot", host_in("in_service", "ipmi://10.0.0.5")));
  EXPECT_TRUE(r.plan("reimage", host_in("in_service")));
}

TEST(LifecycleRules, AnEndpointNoDriverServesIsRefusedAsUnsupported) {
  auto r = with_bmcs(capability_set::all(), ipmi_caps);
  auto p = r.plan("power_on", host_in("ready", "telnet://x"));
  ASSERT_FALSE(p);
  EXPECT_TRUE(is(p.error(), errc::unsupported_by_bmc));
  EXPECT_NE(message_of(p.error()).find("scheme"), std::string::npos) << message_of(p.error());
  // Simulated actions touch no BMC: nothing to ask.
  EXPECT_TRUE(r.plan("sim.chain", host_in("new", "telnet://x")));
}

TEST(LifecycleRules, TheStateIsJudgedBeforeTheBmc) {
  auto r = with_bmcs(capability_set::all(), ipmi_caps);
  auto p = r.plan("reimage", host_in("new", "ipmi://10.0.0.5"));
  ASSERT_FALSE(p);
  EXPECT_TRUE(is(p.error(), errc::invalid_state));
}

TEST(LifecycleRules, AnUnknownActionOrStateIsRefused) {
  rules r;
  EXPECT_TRUE(is(r.plan("fly", host_in("new")).error(), errc::invalid_argument));
  EXPECT_TRUE(is(r.plan("reimage", host_in("retired")).error(), errc::invalid_state));
}

TEST(LifecycleRules, WithoutTheLifecycleAnyStateIsAllowedAndNoneChanges) {
  rules_options o;
  o.lifecycle = false;
  auto p = rules(o).plan("reimage", host_in("new"));
  ASSERT_TRUE(p) << message_of(p.error());
  EXPECT_FALSE(p->from || p->during || p->on_success || p->on_failure || p->on_withdrawal);
  EXPECT_EQ(p->chain.size(), chain_of("reimage").size());
}

TEST(LifecycleRules, ListsEveryActionOfTheWorkflowTable) {
  rules r;
  EXPECT_EQ(r.actions().size(), workflows().size());
  for (const auto& a : r.actions()) EXPECT_TRUE(workflows().count(a)) << a;
}

}  // namespace
}  // namespace ab::lifecycle
