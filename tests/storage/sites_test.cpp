// Conformance: sites as a boundary — claims stay in their site, registering a host again keeps
// what it is, a host does not change under an active request, idempotency keys belong to their
// submitter.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

storage::host_record site_host(const std::string& name, const std::string& site = "dc1") {
  storage::host_record h;
  h.name = name;
  h.site = site;
  h.bmc_endpoint = "https://bmc-" + name;
  h.credential_ref = "env:AB_BMC_" + name;
  return h;
}

}  // namespace

TEST_P(StoreConformance, ANodeClaimsOnlyJobsOfItsOwnSite) {
  auto far = spec("far-1");
  far.site = "dc2";
  // Older and of a higher class: without the site filter it would come first.
  far.priority_class = "maas";
  auto far_id = submit_one(far);
  clock_->advance(1000);
  auto near_id = submit_one(spec("near-1"));
  storage::action_filter dc1;
  dc1.site = "dc1";
  auto got = db().claim("node-a", "t", 10, 30000, dc1);
  ASSERT_TRUE(got) << message_of(got.error());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).request, near_id);
  ASSERT_TRUE(db().complete({{{got->at(0).id, got->at(0).lease_token}, ""}}));
  auto cycle = db().complete_and_claim({}, "node-a", "t", 10, 30000, dc1);
  ASSERT_TRUE(cycle) << message_of(cycle.error());
  EXPECT_TRUE(cycle->claimed.empty()) << "site dc2's job stays for dc2's nodes";
  storage::action_filter dc2;
  dc2.site = "dc2";
  auto theirs = db().complete_and_claim({}, "node-b", "t", 10, 30000, dc2);
  ASSERT_TRUE(theirs);
  ASSERT_EQ(theirs->claimed.size(), 1u);
  EXPECT_EQ(theirs->claimed[0].request, far_id);
}

TEST_P(StoreConformance, RegisteringAKnownHostAgainKeepsItsStateFactsAndCreation) {
  ASSERT_FALSE(db().put_hosts({site_host("a1")}));
  ASSERT_FALSE(hooks().set_host_state("a1", "", "decommissioned"));
  ASSERT_FALSE(db().set_host_facts("a1", R"({"cpus":64})"));
  auto created = db().host("a1")->created_at;
  clock_->advance(5000);
  auto again = site_host("a1");
  again.bmc_endpoint = "https://10.0.0.9";
  ASSERT_FALSE(db().put_hosts({again}));
  auto h = db().host("a1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->lifecycle_state, "decommissioned") << "not revived as new";
  EXPECT_EQ(h->facts, R"({"cpus":64})");
  EXPECT_EQ(h->created_at, created);
  EXPECT_EQ(h->bmc_endpoint, "https://10.0.0.9");
  EXPECT_GT(h->updated_at, created);
}

TEST_P(StoreConformance, AHostsSiteEndpointOrCredentialCannotChangeWhileItHasAnActiveRequest) {
  ASSERT_FALSE(db().put_hosts({site_host("a1")}));
  auto id = submit_one(spec("a1"));
  auto moved = site_host("a1", "dc2");
  auto endpoint = site_host("a1");
  endpoint.bmc_endpoint = "https://elsewhere";
  auto credential = site_host("a1");
  credential.credential_ref = "env:AB_BMC_other";
  for (const auto& change : {moved, endpoint, credential})
    EXPECT_TRUE(is(db().put_hosts({site_host("b1"), change}), errc::host_busy));
  EXPECT_TRUE(is(db().host("b1").error(), errc::not_found)) << "all or nothing";
  EXPECT_FALSE(db().put_hosts({site_host("a1")})) << "the same record again changes nothing";
  EXPECT_EQ(db().host("a1")->site, "dc1");
  ASSERT_TRUE(db().cancel(id, "done"));
  EXPECT_FALSE(db().put_hosts({moved}));
  EXPECT_EQ(db().host("a1")->site, "dc2");
}

TEST_P(StoreConformance, ARequestForAHostThatMovedSiteMeanwhileIsRefused) {
  ASSERT_FALSE(db().put_hosts({site_host("a1", "dc2")}));
  auto out = db().submit({spec("a1")});  // the caller saw it at dc1
  EXPECT_TRUE(!out && is(out.error(), errc::conflict));
}

TEST_P(StoreConformance, IdempotencyKeysBelongToTheirSubmitter) {
  auto mine = spec("a1");
  mine.idempotency_key = "k";
  mine.fingerprint = "f1";
  auto theirs = mine;
  theirs.submitter = "someone-else";
  theirs.fingerprint = "f2";
  auto first = submit_one(mine);
  ASSERT_TRUE(db().cancel(first, "free the host"));
  auto other = db().submit({theirs});
  ASSERT_TRUE(other) << message_of(other.error());
  EXPECT_EQ(other->at(0).what, storage::submit_outcome::status::created)
      << "another submitter's key neither returns nor blocks mine";
  EXPECT_NE(other->at(0).id, first);
  auto again = db().submit({mine});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at(0).what, storage::submit_outcome::status::existing);
  EXPECT_EQ(again->at(0).id, first);
}

TEST_P(StoreConformance, TheIdempotencyWindowIsAtLeastADay) {
  storage::queue_policy p;
  EXPECT_GE(p.idempotency_window_ms, 24 * 60 * 60 * 1000);
  EXPECT_EQ(storage::idempotency_horizon(p, 100'000'000), 100'000'000 - p.idempotency_window_ms);
}

}  // namespace ab::testing
