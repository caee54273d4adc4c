// Why a request waits: each reason `waiting_for` gives, and when it gives none.

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "net/api/waiting_for.hpp"

namespace ab::testing {
namespace {

using storage::job_state;

constexpr time_ms now = 1'764'583'753'000;  // 2025-12-01T10:09:13Z

/// The sample's clusters without `*`: build ← reimage, discover ← discover and build.
config::cluster_map two_clusters() {
  config::cluster_map m;
  m.clusters["build"].actions = {"reimage"};
  m.clusters["discover"].actions = {"discover", "build"};
  m.default_cluster = "discover";
  return m;
}

storage::request_view reimage(job_state first, job_state second = job_state::waiting) {
  storage::request_view r;
  r.id = 7;
  r.action = "reimage";
  r.host = "h1";
  r.site = "dc1";
  r.state = storage::request_state::queued;
  storage::job_view a;
  a.type = "power_off";
  a.state = first;
  storage::job_view b;
  b.type = "install";
  b.state = second;
  r.jobs = {a, b};
  return r;
}

/// Pauses to hand out, counting how often they were asked for; holds are never asked for (the
/// request brings its own).
class counting_safety final : public storage::safety_store {
 public:
  std::vector<storage::pause> pauses;
  int pause_reads = 0;
  int hold_reads = 0;

  caf::expected<std::vector<storage::hold>> holds_of(const std::vector<std::string>&) override {
    ++hold_reads;
    return std::vector<storage::hold>{};
  }
  caf::expected<std::vector<storage::hold>> holds(const storage::hold_filter&) override {
    ++hold_reads;
    return std::vector<storage::hold>{};
  }
  caf::expected<storage::hold> place_hold(const storage::hold&, const std::string&) override {
    return ab::make_error(errc::store_failure, "not used");
  }
  caf::expected<storage::hold> lift_hold(const std::string&,
                                         const storage::safety_actor&) override {
    return ab::make_error(errc::store_failure, "not used");
  }
  caf::expected<std::vector<storage::pause>> active_pauses() override {
    ++pause_reads;
    return pauses;
  }
  caf::expected<storage::pause> place_pause(const storage::pause&, const std::string&) override {
    return ab::make_error(errc::store_failure, "not used");
  }
  caf::expected<storage::pause> resume(const std::string&, const std::string&,
                                       const storage::safety_actor&) override {
    return ab::make_error(errc::store_failure, "not used");
  }
};

storage::node_record node(const std::string& cluster, time_ms last_seen,
                          const std::string& site = "dc1") {
  return {"n-" + cluster, site, cluster, "127.0.0.1:8080", last_seen};
}

TEST(WaitingFor, TimesAreShownAsUtc) {
  EXPECT_EQ(net::iso_utc(now), "2025-12-01T10:09:13Z");
}

TEST(WaitingFor, NoLiveNodeOfTheServingClusterIsNamedWithTheWindow) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("discover", now), node("build", now - 31'000)};
  auto why = net::waiting_for(reimage(job_state::ready), {nodes, map, now, 30'000});
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "no live node of cluster build (serves reimage) in site dc1 has sent a heartbeat in "
            "the last 30 s");
}

TEST(WaitingFor, ALiveNodeOfTheClusterInAnotherSiteDoesNotCount) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now, "dc2")};
  EXPECT_TRUE(net::waiting_for(reimage(job_state::ready), {nodes, map, now, 30'000}));
}

TEST(WaitingFor, NothingIsSaidWhileALiveNodeCanClaimTheJob) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now - 29'000)};
  EXPECT_EQ(net::waiting_for(reimage(job_state::ready), {nodes, map, now, 30'000}), std::nullopt);
}

TEST(WaitingFor, ARetryNamesItsTimeAndTheErrorBeforeIt) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now)};
  auto r = reimage(job_state::ready);
  r.jobs[0].not_before = now + 60'000;
  r.jobs[0].attempts = 1;
  r.jobs[0].error = "BMC answered 503";
  EXPECT_EQ(net::waiting_for(r, {nodes, map, now, 30'000}),
            "job power_off: retry at 2025-12-01T10:10:13Z after: BMC answered 503");
  r.jobs[0].not_before = now;
  EXPECT_EQ(net::waiting_for(r, {nodes, map, now, 30'000}), std::nullopt)
      << "a retry that is due is claimable";
}

TEST(WaitingFor, AParkedJobWaitsForTheInstallerUntilItsDeadline) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes;  // a parked job needs no node
  auto r = reimage(job_state::done, job_state::parked);
  r.state = storage::request_state::running;
  r.jobs[1].deadline = now + 3'600'000;
  EXPECT_EQ(net::waiting_for(r, {nodes, map, now, 30'000}),
            "job install is waiting for the installer's callback until 2025-12-01T11:09:13Z");
}

TEST(WaitingFor, AnActionNoClusterServesSaysSoWithTheMap) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now), node("discover", now)};
  auto r = reimage(job_state::ready);
  r.action = "wipe";
  EXPECT_EQ(net::waiting_for(r, {nodes, map, now, 30'000}),
            "no cluster of the cluster map serves action wipe (clusters: build serves reimage; "
            "discover serves discover, build)");
}

TEST(WaitingFor, RunningAndFinishedRequestsWaitForNothing) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes;  // no live node at all
  auto running = reimage(job_state::running);
  running.state = storage::request_state::running;
  EXPECT_EQ(net::waiting_for(running, {nodes, map, now, 30'000}), std::nullopt);
  auto done = reimage(job_state::done, job_state::done);
  done.state = storage::request_state::succeeded;
  EXPECT_EQ(net::waiting_for(done, {nodes, map, now, 30'000}), std::nullopt);
}

TEST(WaitingFor, WithoutAMapTheOneClusterServesEveryAction) {
  auto map = config::cluster_map::defaults();
  std::vector<storage::node_record> nodes;
  auto why = net::waiting_for(reimage(job_state::ready), {nodes, map, now, 30'000});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("no live node of cluster all (serves reimage)"), std::string::npos) << *why;
  nodes.push_back(node("all", now));
  EXPECT_EQ(net::waiting_for(reimage(job_state::ready), {nodes, map, now, 30'000}), std::nullopt);
}

TEST(WaitingFor, AHoldOrAPauseIsNamedBeforeAnythingElse) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now)};
  std::vector<storage::hold> holds{{"h1", "dc1", "disk swap", "alice", now}};
  std::vector<storage::pause> pauses{{"cluster", "build", "frozen", "bob", now},
                                     {"action", "wipe", "other action", "bob", now}};
  net::waiting_context ctx{nodes, map, now, 30'000};
  ctx.blockers = lifecycle::blockers_of({"h1", "dc1", "reimage", "build"}, holds, pauses);
  auto why = net::waiting_for(reimage(job_state::ready), ctx);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "held: host h1 is on hold by alice: disk swap; paused: cluster build is paused by "
            "bob: frozen");
  // A running job is not waiting, whatever stops the next one.
  EXPECT_FALSE(net::waiting_for(reimage(job_state::running), ctx));
}

TEST(WaitingFor, TheHoldComesWithTheRequestAndPausesAreReadOnlyWhenSomeAreInForce) {
  auto map = two_clusters();
  counting_safety store;
  store.pauses = {{"cluster", "build", "frozen", "bob", now}};
  auto r = reimage(job_state::ready);
  r.host_hold = storage::hold{"h1", "dc1", "disk swap", "alice", now};
  // Nothing paused: the request's own hold, and no store call at all.
  auto held = net::safety_blockers(store, map, r);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].kind, "hold");
  EXPECT_EQ(store.pause_reads, 0);
  // Something paused: the pauses are read, once.
  r.pauses_in_force = true;
  auto both = net::safety_blockers(store, map, r);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].kind, "pause");
  EXPECT_EQ(store.pause_reads, 1);
  EXPECT_EQ(store.hold_reads, 0);
}

TEST(WaitingFor, ARunningParkedOrFinishedRequestCostsNoSafetyLookup) {
  auto map = two_clusters();
  counting_safety store;
  store.pauses = {{"cluster", "build", "frozen", "bob", now}};
  for (auto state : {job_state::running, job_state::parked}) {
    auto r = reimage(state);
    r.pauses_in_force = true;
    EXPECT_TRUE(net::safety_blockers(store, map, r).empty());
  }
  auto done = reimage(job_state::done, job_state::done);
  done.state = storage::request_state::succeeded;
  done.pauses_in_force = true;
  EXPECT_TRUE(net::safety_blockers(store, map, done).empty());
  EXPECT_EQ(store.pause_reads, 0);
  // A queued one that waits for its claim does look.
  auto queued = reimage(job_state::ready);
  queued.pauses_in_force = true;
  EXPECT_EQ(net::safety_blockers(store, map, queued).size(), 1u);
  EXPECT_EQ(store.pause_reads, 1);
}

TEST(WaitingFor, PacedWorkSaysItWaitsItsTurnAndUntilWhen) {
  auto map = two_clusters();
  std::vector<storage::node_record> nodes{node("build", now)};
  auto r = reimage(job_state::ready);
  r.jobs[0].not_before = now + 1000;
  r.jobs[0].error = "pacing: rack r1 has 4 of 4 hosts in flight";
  auto why = net::waiting_for(r, {nodes, map, now, 30'000});
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "job power_off waits its turn (pacing): rack r1 has 4 of 4 hosts in flight; looked at "
            "again at 2025-12-01T10:09:14Z");
}

}  // namespace
}  // namespace ab::testing
