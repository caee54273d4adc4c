// Conformance: holds and pauses. A held host's work is neither accepted nor claimed, a paused
// site, cluster or action is skipped by the claim while other work is taken, and every
// change is audited.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

/// Registers `names` in site dc1, each with its own BMC.
void put_hosts(storage::store& db, const std::vector<std::string>& names) {
  std::vector<storage::host_record> hosts;
  for (const auto& n : names) {
    storage::host_record h;
    h.name = n;
    h.site = "dc1";
    h.bmc_endpoint = "redfish://bmc-" + n;
    h.credential_ref = "cred";
    hosts.push_back(h);
  }
  auto err = db.put_hosts(hosts);
  ASSERT_FALSE(err) << message_of(err);
}

std::vector<storage::audit_entry> audited(storage::store& db, const std::string& action) {
  auto log = db.audit_log({});
  EXPECT_TRUE(log) << message_of(log.error());
  std::vector<storage::audit_entry> out;
  if (log)
    for (const auto& e : *log)
      if (e.action == action) out.push_back(e);
  return out;
}

std::vector<std::string> hosts_of(const std::vector<storage::claimed_job>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) out.push_back(j.host);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_P(StoreConformance, AHoldIsPlacedListedAndLiftedWithAnAuditEntryEachTime) {
  put_hosts(db(), {"h1", "h2"});
  auto placed = db().place_hold({"h1", "", "disk swap", "alice"}, "10.0.0.9");
  ASSERT_TRUE(placed) << message_of(placed.error());
  EXPECT_EQ(placed->site, "dc1");
  EXPECT_EQ(placed->created_at, clock_->now());

  auto of = db().holds_of({"h2", "h1", "nope"});
  ASSERT_TRUE(of) << message_of(of.error());
  ASSERT_EQ(of->size(), 1u);
  EXPECT_EQ(of->at(0).host, "h1");
  EXPECT_EQ(of->at(0).reason, "disk swap");
  EXPECT_EQ(of->at(0).owner, "alice");

  // A second hold of the same host is refused with the first one's owner and reason.
  auto twice = db().place_hold({"h1", "", "other", "bob"}, "10.0.0.8");
  ASSERT_FALSE(twice);
  EXPECT_TRUE(is(twice.error(), errc::conflict));
  EXPECT_NE(message_of(twice.error()).find("alice"), std::string::npos);

  auto lifted = db().lift_hold("h1", {"bob", "10.0.0.8", "swap done"});
  ASSERT_TRUE(lifted) << message_of(lifted.error());
  EXPECT_EQ(lifted->owner, "alice");
  auto none = db().holds({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto trail = audited(db(), "hold.write");
  ASSERT_EQ(trail.size(), 2u);  // newest first
  EXPECT_EQ(trail[0].decision, "lifted");
  EXPECT_EQ(trail[0].actor, "bob");
  EXPECT_EQ(trail[0].target, "host:h1");
  EXPECT_NE(trail[0].detail.find("swap done"), std::string::npos);
  EXPECT_EQ(trail[1].decision, "placed");
  EXPECT_EQ(trail[1].actor, "alice");
  EXPECT_EQ(trail[1].source, "10.0.0.9");
}

TEST_P(StoreConformance, AHoldNeedsAKnownHostAReasonAndAnOwner) {
  put_hosts(db(), {"h1"});
  auto unknown = db().place_hold({"ghost", "", "why", "alice"}, "");
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is(unknown.error(), errc::not_found));
  auto no_reason = db().place_hold({"h1", "", "", "alice"}, "");
  ASSERT_FALSE(no_reason);
  EXPECT_TRUE(is(no_reason.error(), errc::invalid_argument));
  auto no_owner = db().place_hold({"h1", "", "why", ""}, "");
  ASSERT_FALSE(no_owner);
  EXPECT_TRUE(is(no_owner.error(), errc::invalid_argument));
  auto lift = db().lift_hold("h1", {"alice", "", ""});
  ASSERT_FALSE(lift);
  EXPECT_TRUE(is(lift.error(), errc::not_found));
  EXPECT_TRUE(audited(db(), "hold.write").empty());
}

TEST_P(StoreConformance, ASubmissionForAHeldHostIsRefusedWithTheHoldsReason) {
  put_hosts(db(), {"h1", "h2"});
  ASSERT_TRUE(db().place_hold({"h1", "", "rack move", "alice"}, ""));
  auto out = db().submit({spec("h1"), spec("h2")});
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::held);
  EXPECT_NE(out->at(0).reason.find("rack move"), std::string::npos);
  EXPECT_NE(out->at(0).reason.find("alice"), std::string::npos);
  EXPECT_EQ(out->at(1).what, storage::submit_outcome::status::created);
  auto page = db().requests({});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].host, "h2");
}

TEST_P(StoreConformance, AClaimSkipsAHeldHostsQueuedWorkAndTakesItOnceTheHoldIsLifted) {
  put_hosts(db(), {"h1", "h2"});
  auto r1 = submit_one(spec("h1", {"t", "t"}));
  submit_one(spec("h2"));
  // Held after its request was queued: the request waits, other hosts' work goes on.
  ASSERT_TRUE(db().place_hold({"h1", "", "maintenance", "alice"}, ""));
  EXPECT_EQ(hosts_of(claim("t")), std::vector<std::string>{"h2"});
  EXPECT_TRUE(claim("t").empty());
  ASSERT_TRUE(db().lift_hold("h1", {"alice", "", ""}));
  auto later = claim("t");
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].request, r1);
}

TEST_P(StoreConformance, AHoldLetsTheRunningJobFinishAndStopsTheNextOneOfItsChain) {
  put_hosts(db(), {"h1"});
  auto r1 = submit_one(spec("h1", {"t", "t"}));
  auto first = claim("t");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(db().place_hold({"h1", "", "maintenance", "alice"}, ""));
  EXPECT_TRUE(complete(first[0]).lost.empty());
  EXPECT_TRUE(claim("t").empty());
  ASSERT_TRUE(db().lift_hold("h1", {"alice", "", ""}));
  auto second = claim("t");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].request, r1);
  EXPECT_EQ(second[0].position, 1);
}

TEST_P(StoreConformance, ARequestIsReadWithItsHostsHoldAndWhetherAnythingIsPaused) {
  put_hosts(db(), {"h1", "h2"});
  auto r1 = submit_one(spec("h1", {"t", "t"}));
  auto r2 = submit_one(spec("h2"));
  auto plain = db().request(r1);
  ASSERT_TRUE(plain) << message_of(plain.error());
  EXPECT_FALSE(plain->host_hold);
  EXPECT_FALSE(plain->pauses_in_force);
  EXPECT_EQ(plain->jobs.size(), 2u);

  ASSERT_TRUE(db().place_hold({"h1", "", "disk swap", "alice"}, ""));
  ASSERT_TRUE(db().place_pause({"action", "wipe", "bad image", "bob", 0}, ""));
  auto held = db().request(r1);
  ASSERT_TRUE(held) << message_of(held.error());
  ASSERT_TRUE(held->host_hold);
  EXPECT_EQ(held->host_hold->host, "h1");
  EXPECT_EQ(held->host_hold->site, "dc1");
  EXPECT_EQ(held->host_hold->reason, "disk swap");
  EXPECT_EQ(held->host_hold->owner, "alice");
  EXPECT_EQ(held->host_hold->created_at, clock_->now());
  EXPECT_TRUE(held->pauses_in_force);
  // The hold neither multiplies nor hides the jobs.
  ASSERT_EQ(held->jobs.size(), 2u);
  EXPECT_EQ(held->jobs[0].position, 0);
  EXPECT_EQ(held->jobs[1].position, 1);
  // Another host's request has no hold, but sees that something is paused.
  auto other = db().request(r2);
  ASSERT_TRUE(other) << message_of(other.error());
  EXPECT_FALSE(other->host_hold);
  EXPECT_TRUE(other->pauses_in_force);
  EXPECT_EQ(other->jobs.size(), 1u);
  // Listings carry neither.
  auto page = db().requests({});
  ASSERT_TRUE(page) << message_of(page.error());
  ASSERT_EQ(page->items.size(), 2u);
  for (const auto& item : page->items) {
    EXPECT_FALSE(item.host_hold);
    EXPECT_FALSE(item.pauses_in_force);
  }

  ASSERT_TRUE(db().lift_hold("h1", {"alice", "", ""}));
  ASSERT_TRUE(db().resume("action", "wipe", {"bob", "", ""}));
  auto lifted = db().request(r1);
  ASSERT_TRUE(lifted) << message_of(lifted.error());
  EXPECT_FALSE(lifted->host_hold);
  EXPECT_FALSE(lifted->pauses_in_force);
}

TEST_P(StoreConformance, APauseIsPlacedListedAndResumedWithAnAuditEntryEachTime) {
  auto p = db().place_pause({"site", "dc1", "power work", "alice", 0}, "10.0.0.9");
  ASSERT_TRUE(p) << message_of(p.error());
  EXPECT_EQ(p->created_at, clock_->now());
  auto twice = db().place_pause({"site", "dc1", "again", "bob", 0}, "");
  ASSERT_FALSE(twice);
  EXPECT_TRUE(is(twice.error(), errc::conflict));
  auto bad = db().place_pause({"rack", "r1", "why", "bob", 0}, "");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is(bad.error(), errc::invalid_argument));
  auto all = db().active_pauses();
  ASSERT_TRUE(all) << message_of(all.error());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->at(0).reason, "power work");
  auto resumed = db().resume("site", "dc1", {"bob", "10.0.0.8", ""});
  ASSERT_TRUE(resumed) << message_of(resumed.error());
  EXPECT_EQ(resumed->owner, "alice");
  auto again = db().resume("site", "dc1", {"bob", "", ""});
  ASSERT_FALSE(again);
  EXPECT_TRUE(is(again.error(), errc::not_found));
  auto trail = audited(db(), "pause.write");
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[0].decision, "resumed");
  EXPECT_EQ(trail[0].target, "site:dc1");
  EXPECT_EQ(trail[1].decision, "paused");
}

TEST_P(StoreConformance, AClaimSkipsAPausedActionAndTakesOtherWork) {
  auto wipe = spec("h1");
  wipe.action = "wipe";
  auto r1 = submit_one(wipe);
  submit_one(spec("h2"));
  ASSERT_TRUE(db().place_pause({"action", "wipe", "bad image", "alice", 0}, ""));
  EXPECT_EQ(hosts_of(claim("t")), std::vector<std::string>{"h2"});
  ASSERT_TRUE(db().resume("action", "wipe", {"alice", "", ""}));
  auto later = claim("t");
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].request, r1);
}

TEST_P(StoreConformance, AClaimOfAPausedSiteOrClusterTakesNothingAndOtherClaimsGoOn) {
  submit_one(spec("h1"));
  auto other = spec("h2");
  other.site = "dc2";
  submit_one(other);
  ASSERT_TRUE(db().place_pause({"site", "dc1", "feed work", "alice", 0}, ""));
  ASSERT_TRUE(db().place_pause({"cluster", "build", "frozen", "alice", 0}, ""));
  auto claim_as = [&](const std::string& site, const std::string& cluster) {
    storage::action_filter f;
    f.site = site;
    f.cluster = cluster;
    auto out = db().claim("node-a", "t", 10, 30000, f);
    EXPECT_TRUE(out) << message_of(out.error());
    return out ? hosts_of(*out) : std::vector<std::string>{};
  };
  EXPECT_TRUE(claim_as("dc1", "all").empty());
  EXPECT_TRUE(claim_as("dc2", "build").empty());
  // An unfiltered claim (a tool's) still honours the site pause.
  EXPECT_EQ(claim_as("", ""), std::vector<std::string>{"h2"});
  ASSERT_TRUE(db().resume("site", "dc1", {"alice", "", ""}));
  EXPECT_TRUE(claim_as("dc1", "build").empty());
  EXPECT_EQ(claim_as("dc1", "all"), std::vector<std::string>{"h1"});
}

TEST_P(StoreConformance, APausedJobStillCompletesAndItsChainWaits) {
  auto r1 = submit_one(spec("h1", {"t", "t"}));
  auto first = claim("t");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(db().place_pause({"action", "test", "stop", "alice", 0}, ""));
  EXPECT_TRUE(complete(first[0]).lost.empty());
  EXPECT_TRUE(claim("t").empty());
  EXPECT_EQ(request(r1).state, storage::request_state::running);
}

}  // namespace ab::testing
