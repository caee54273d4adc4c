// The end-to-end checker over hand-made records: a clean run passes, and each kind of
// violation is caught and counted (a checker that cannot fail proves nothing).

#include <gtest/gtest.h>

#include <algorithm>

#include "e2e/invariants.hpp"

namespace ab::e2e {
namespace {

constexpr std::int64_t request_a = 1'000'000'000'001;
constexpr std::int64_t request_b = 1'000'000'000'002;

std::string tag(std::int64_t request, int position, const std::string& claim) {
  return std::to_string(request * 64 + position) + "/" + claim;
}

/// A wipe of h1 (power_off → erase) that went well, then a power_on of h1.
run_records clean() {
  run_records r;
  r.accepted = {{request_a, "h1", "wipe"}, {request_b, "h1", "power_on"}};
  request_record a{request_a, "h1", "wipe", "succeeded", "", 1000, 2000, {}};
  a.jobs = {{request_a * 64, 0, "power_off", "done", 1, 1100, 1200},
            {request_a * 64 + 1, 1, "erase", "done", 2, 1300, 1900}};
  request_record b{request_b, "h1", "power_on", "failed", "power on: BMC refused", 2000, 3000, {}};
  b.jobs = {{request_b * 64, 0, "power_on", "failed", 3, 2100, 3000}};
  r.requests = {a, b};
  r.bmc_actions["h1"] = {{1150, "power", "ForceOff", tag(request_a, 0, "c1")},
                         // The erase's first claim failed; the retry is another claim.
                         {1350, "erase", "Disk0", tag(request_a, 1, "c2")},
                         {1500, "erase", "Disk0", tag(request_a, 1, "c3")},
                         {1510, "erase", "Disk1", tag(request_a, 1, "c3")},
                         {2200, "power", "On", tag(request_b, 0, "c4")},
                         // An operator's own call names no job.
                         {2300, "power", "On", ""}};
  r.audit_expected = {{"dc-a", "cluster.write", "cluster-map"}};
  r.audit_found["dc-a"] = {{"POST /v1/requests", "/v1/requests"}, {"cluster.write", "cluster-map"}};
  return r;
}

constexpr std::int64_t request_c = request_b + 1;

/// Adds request_c, accepted and found failed with `error` (no jobs).
void add_failed_request(run_records& r, const std::string& host, const std::string& action,
                        const std::string& error) {
  r.accepted.push_back({request_c, host, action});
  r.requests.push_back({request_c, host, action, "failed", error, 3000, 4000, {}});
}

bool has(const verdict& v, const std::string& kind) {
  return std::any_of(v.violations.begin(), v.violations.end(),
                     [&](const violation& x) { return x.kind == kind; });
}

std::string shown(const verdict& v) {
  std::string out;
  for (const auto& x : v.violations) out += x.kind + ": " + x.detail + "\n";
  return out;
}

TEST(Invariants, ACleanRunPassesWithEveryAcceptedRequestTerminal) {
  auto v = check(clean());
  EXPECT_TRUE(v.ok()) << shown(v);
  EXPECT_EQ(v.accepted, 2u);
  EXPECT_EQ(v.terminal, 2u);
  EXPECT_EQ(summary_line(v, 7),
            "e2e: accepted=2 terminal=2 lost=0 double_runs=0 out_of_order=0 faults=7");
}

TEST(Invariants, AnAcceptedRequestNoStoreHoldsIsLost) {
  auto r = clean();
  r.accepted.push_back({request_b + 5, "h2", "reboot"});
  auto v = check(r);
  EXPECT_TRUE(has(v, "lost")) << shown(v);
  EXPECT_EQ(v.lost, 1u);
  EXPECT_EQ(v.accepted, 3u);
  EXPECT_EQ(v.terminal, 2u);
}

TEST(Invariants, ARequestStillRunningIsUnfinishedAndNotTerminal) {
  auto r = clean();
  r.requests[1].state = "running";
  r.requests[1].finished_at = 0;
  auto v = check(r);
  EXPECT_TRUE(has(v, "unfinished")) << shown(v);
  EXPECT_EQ(v.terminal, 1u);
}

TEST(Invariants, AStoredRequestNoClientSawMustEndToo) {
  auto r = clean();
  r.requests.push_back({request_b + 1, "h2", "discover", "queued", "", 2500, 0, {}});
  auto v = check(r);
  EXPECT_TRUE(has(v, "unfinished")) << shown(v);
  EXPECT_EQ(v.accepted, 2u);
}

TEST(Invariants, AFailureWithoutAReasonIsCaught) {
  auto r = clean();
  r.requests[1].error.clear();
  EXPECT_TRUE(has(check(r), "no_reason"));
}

TEST(Invariants, TwoClaimsOfOneJobActingInTurnAreADoubleRun) {
  auto r = clean();
  auto& h1 = r.bmc_actions["h1"];
  // Claim c2 acts again after c3 began: the first attempt was still running.
  h1.insert(h1.begin() + 3, {1505, "erase", "Disk1", tag(request_a, 1, "c2")});
  auto v = check(r);
  EXPECT_TRUE(has(v, "double_run")) << shown(v);
  EXPECT_EQ(v.double_runs, 1u);
}

TEST(Invariants, AnEarlierJobsActionAfterALaterOnesIsOutOfOrder) {
  auto r = clean();
  auto& h1 = r.bmc_actions["h1"];
  // The power_off job (position 0) acts after the erase (position 1) began.
  h1.insert(h1.begin() + 2, {1400, "power", "ForceOff", tag(request_a, 0, "c1")});
  auto v = check(r);
  EXPECT_TRUE(has(v, "out_of_order")) << shown(v);
  EXPECT_EQ(v.out_of_order, 1u);
}

TEST(Invariants, AJobStartedBeforeThePreviousOneFinishedIsOutOfOrder) {
  auto r = clean();
  r.requests[0].jobs[1].started_at = 1150;
  auto v = check(r);
  EXPECT_TRUE(has(v, "out_of_order")) << shown(v);
  EXPECT_EQ(v.out_of_order, 1u);
}

TEST(Invariants, OverlappingRequestsOfOneHostAreTwoActive) {
  auto r = clean();
  r.requests[1].created_at = 1500;
  EXPECT_TRUE(has(check(r), "two_active"));
}

TEST(Invariants, TwoRequestsActingInTurnOnOneBmcAreTwoActive) {
  auto r = clean();
  auto& h1 = r.bmc_actions["h1"];
  // request_b's power_on lands between request_a's erases.
  h1.insert(h1.begin() + 2, {1400, "power", "On", tag(request_b, 0, "c4")});
  auto v = check(r);
  EXPECT_TRUE(has(v, "two_active")) << shown(v);
}

TEST(Invariants, AJobActingOnAnotherHostsBmcIsMisdirected) {
  auto r = clean();
  r.bmc_actions["h2"] = {{1600, "power", "ForceOff", tag(request_a, 0, "c1")}};
  EXPECT_TRUE(has(check(r), "misdirected"));
}

TEST(Invariants, AChangeMissingFromTheAuditIsCaught) {
  auto r = clean();
  r.audit_found["dc-a"].pop_back();
  EXPECT_TRUE(has(check(r), "unaudited"));
}

TEST(Invariants, EachActionsAcceptedRequestsAreTalliedByHowTheyEnded) {
  auto r = clean();
  // An accepted id counted once, however often a client was told.
  r.accepted.push_back(r.accepted.front());
  r.accepted.push_back({request_b + 1, "h2", "wipe"});
  auto t = tally_actions(r.accepted, r.requests);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["wipe"].accepted, 2u);
  EXPECT_EQ(t["wipe"].succeeded, 1u);
  EXPECT_EQ(t["wipe"].other, 1u);  // not in any store
  EXPECT_EQ(t["power_on"].accepted, 1u);
  EXPECT_EQ(t["power_on"].failed, 1u);
  EXPECT_EQ(t["power_on"].succeeded, 0u);
}

TEST(Invariants, AnActionOfTheWorkloadThatNeverSucceededFailsTheRun) {
  auto r = clean();
  r.actions_expected = {"wipe"};
  EXPECT_TRUE(check(r).ok()) << shown(check(r));
  // power_on was accepted but failed; reimage was never accepted at all.
  r.actions_expected = {"wipe", "power_on", "reimage"};
  auto v = check(r);
  ASSERT_EQ(std::count_if(v.violations.begin(), v.violations.end(),
                          [](const violation& x) { return x.kind == "never_succeeded"; }),
            2)
      << shown(v);
  EXPECT_NE(shown(v).find("action power_on never reached succeeded: accepted=1 failed=1"),
            std::string::npos)
      << shown(v);
  EXPECT_NE(shown(v).find("action reimage never reached succeeded: accepted=0"), std::string::npos)
      << shown(v);
}

TEST(Invariants, LostCallbacksThatNeverHitAnInstallDeadlineFailTheRun) {
  auto r = clean();
  r.install_lost_hosts = {"h2"};
  EXPECT_TRUE(has(check(r), "no_install_deadline"));
  // A reimage of h2 that failed for another reason does not count ...
  add_failed_request(r, "h2", "reimage", "power_off: BMC refused");
  EXPECT_TRUE(has(check(r), "no_install_deadline"));
  // ... nor one at its install deadline on a host whose callbacks were not lost ...
  r.requests.back().error =
      std::string{"job 3 install failed after 2 attempts: "} + install_deadline_reason;
  r.install_lost_hosts = {"h1"};
  EXPECT_TRUE(has(check(r), "no_install_deadline"));
  // ... but one of h2 failed at its install deadline does.
  r.install_lost_hosts = {"h2"};
  auto v = check(r);
  EXPECT_FALSE(has(v, "no_install_deadline")) << shown(v);
  // And no stored request counts unless a client was told it was accepted.
  r.accepted.pop_back();
  EXPECT_TRUE(has(check(r), "no_install_deadline"));
}

TEST(Invariants, FailingInstallersThatNeverFailedARequestFailTheRun) {
  auto r = clean();
  r.install_fail_hosts = {"h3"};
  EXPECT_TRUE(has(check(r), "no_installer_failure"));
  // A failure at the install deadline is not the installer's report.
  add_failed_request(r, "h3", "build",
                     std::string{"job 3 install failed: "} + install_deadline_reason);
  EXPECT_TRUE(has(check(r), "no_installer_failure"));
  r.requests.back().error =
      std::string{"job 3 install failed: "} + installer_failure_reason + ": disk not found";
  auto v = check(r);
  EXPECT_FALSE(has(v, "no_installer_failure")) << shown(v);
  EXPECT_TRUE(v.ok()) << shown(v);
}

TEST(Invariants, AnInstallDeadlineMissedByAHostWhoseCallbacksWereNotLostIsACallbackLost) {
  auto r = clean();
  add_failed_request(r, "h2", "reimage",
                     std::string{"job 3 (install) failed after 2 attempt(s): "} +
                         install_deadline_reason + " (last held by n1)");
  auto v = check(r);
  EXPECT_TRUE(has(v, "callback_lost")) << shown(v);
  // The same failure on a host whose installer loses its callbacks on purpose is the fault's
  // expected effect.
  r.install_lost_hosts = {"h2"};
  v = check(r);
  EXPECT_FALSE(has(v, "callback_lost")) << shown(v);
  EXPECT_TRUE(v.ok()) << shown(v);
}

}  // namespace
}  // namespace ab::e2e
