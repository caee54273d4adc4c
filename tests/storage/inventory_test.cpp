// Conformance: hosts, nodes, audit trail, schema migrations.

#include <set>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

storage::host_record host(const std::string& name, const std::string& site = "dc1") {
  storage::host_record h;
  h.name = name;
  h.site = site;
  h.bmc_endpoint = "https://bmc-" + name + ":443";
  h.credential_ref = "file:/etc/autobuild/bmc/" + name;
  return h;
}

}  // namespace

TEST_P(StoreConformance, HostsAreStoredReplacedAndListedBySite) {
  ASSERT_FALSE(db().put_hosts({host("a1"), host("a2"), host("b1", "dc2")}));
  auto h = db().host("a1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->site, "dc1");
  EXPECT_EQ(h->lifecycle_state, "new");
  EXPECT_EQ(h->credential_ref, "file:/etc/autobuild/bmc/a1");
  auto changed = host("a1");
  changed.bmc_endpoint = "https://10.0.0.9";
  ASSERT_FALSE(db().put_hosts({changed}));
  EXPECT_EQ(db().host("a1")->bmc_endpoint, "https://10.0.0.9");
  storage::host_filter f;
  f.site = "dc1";
  auto list = db().hosts(f);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->at(0).name, "a1");
  f.after = "a1";
  EXPECT_EQ(db().hosts(f)->size(), 1u);
  EXPECT_TRUE(is(db().host("zz").error(), errc::not_found));
}

TEST_P(StoreConformance, TwoHostsNeverNameOneBmcEndpoint) {
  ASSERT_FALSE(db().put_hosts({host("a1")}));
  // The same host again, with its own endpoint: a replacement, not a conflict.
  ASSERT_FALSE(db().put_hosts({host("a1")}));
  auto thief = host("a2");
  thief.bmc_endpoint = host("a1").bmc_endpoint;
  auto err = db().put_hosts({host("a3"), thief});
  ASSERT_TRUE(is(err, errc::endpoint_taken)) << message_of(err);
  EXPECT_NE(message_of(err).find("'a1'"), std::string::npos) << message_of(err);
  EXPECT_TRUE(is(db().host("a3").error(), errc::not_found)) << "all or nothing";
  EXPECT_TRUE(is(db().host("a2").error(), errc::not_found));
  // Once a1 moves to another BMC, its old endpoint is free.
  auto moved = host("a1");
  moved.bmc_endpoint = "https://10.0.0.9";
  ASSERT_FALSE(db().put_hosts({moved}));
  EXPECT_FALSE(db().put_hosts({thief}));
}

TEST_P(StoreConformance, HostStateMovesOnlyFromTheExpectedState) {
  ASSERT_FALSE(db().put_hosts({host("a1")}));
  EXPECT_FALSE(hooks().set_host_state("a1", "new", "discovered"));
  EXPECT_TRUE(is(hooks().set_host_state("a1", "new", "ready"), errc::conflict));
  EXPECT_FALSE(hooks().set_host_state("a1", "", "ready"));
  EXPECT_EQ(db().host("a1")->lifecycle_state, "ready");
  EXPECT_TRUE(is(hooks().set_host_state("nope", "", "ready"), errc::not_found));
  storage::host_filter f;
  f.lifecycle_state = "ready";
  EXPECT_EQ(db().hosts(f)->size(), 1u);
}

TEST_P(StoreConformance, DiscoveredFactsAreKept) {
  ASSERT_FALSE(db().put_hosts({host("a1")}));
  ASSERT_FALSE(db().set_host_facts("a1", R"({"cpus":64})"));
  EXPECT_EQ(db().host("a1")->facts, R"({"cpus":64})");
  EXPECT_TRUE(is(db().set_host_facts("nope", "{}"), errc::not_found));
}

TEST_P(StoreConformance, AHostWithAnActiveRequestCannotBeDeleted) {
  ASSERT_FALSE(db().put_hosts({host("a1")}));
  auto id = submit_one(spec("a1"));
  EXPECT_TRUE(is(db().delete_host("a1"), errc::host_busy));
  ASSERT_TRUE(db().cancel(id, "done with it"));
  EXPECT_FALSE(db().delete_host("a1"));
  EXPECT_TRUE(is(db().delete_host("a1"), errc::not_found));
}

TEST_P(StoreConformance, HeartbeatsRegisterAndRefreshNodes) {
  ASSERT_FALSE(db().heartbeat({"n1", "dc1", "build", "10.0.0.1:8080", 0}));
  clock_->advance(5000);
  ASSERT_FALSE(db().heartbeat({"n1", "dc1", "others", "10.0.0.1:8080", 0}));
  ASSERT_FALSE(db().heartbeat({"n2", "dc1", "discover", "10.0.0.2:8080", 0}));
  auto nodes = db().nodes();
  ASSERT_TRUE(nodes);
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ(nodes->at(0).cluster, "others");
  EXPECT_EQ(nodes->at(0).last_seen, clock_->now());
}

TEST_P(StoreConformance, TheAuditTrailIsAppendOnlyAndNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    storage::audit_entry e;
    e.actor = i % 2 ? "alice" : "svc-maas";
    e.source = "10.1.1.1";
    e.action = "submit reimage";
    e.target = "h" + std::to_string(i);
    e.decision = i == 4 ? "denied" : "allowed";
    e.detail = "{}";
    auto id = db().audit(e);
    ASSERT_TRUE(id);
    clock_->advance(10);
  }
  auto all = db().audit_log({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().target, "h4");
  EXPECT_EQ(all->front().decision, "denied");
  storage::audit_filter f;
  f.actor = "alice";
  EXPECT_EQ(db().audit_log(f)->size(), 2u);
  f = {};
  f.limit = 2;
  auto page = db().audit_log(f);
  ASSERT_EQ(page->size(), 2u);
  f.before = page->back().id;
  f.limit = 100;
  EXPECT_EQ(db().audit_log(f)->size(), 3u);
}

TEST_P(StoreConformance, FindHostsReadsManyHostsAtOnceAndSkipsUnknownNames) {
  std::vector<storage::host_record> hs;
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) {
    hs.push_back(host("n" + std::to_string(i)));
    names.push_back("n" + std::to_string(i));
  }
  ASSERT_FALSE(db().put_hosts(hs));
  names.push_back("ghost");
  auto found = db().find_hosts(names);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->size(), 100u);
  std::set<std::string> seen;
  for (const auto& h : *found) seen.insert(h.name);
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_FALSE(seen.count("ghost"));
  EXPECT_EQ(found->front().site, "dc1");
  auto none = db().find_hosts({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, ARequestMovesItsHostThroughTheLifecycle) {
  ASSERT_FALSE(db().put_hosts({host("ok"), host("bad"), host("early"), host("late"), host("pwr")}));
  auto lifecycle = [](storage::request_spec s) {
    s.host_state_from = "new";
    s.host_state_during = "provisioning";
    s.host_state_on_success = "in_service";
    s.host_state_on_failure = "provisioning_failed";
    s.host_state_on_withdrawal = "new";
    return s;
  };
  auto state = [&](const std::string& name) { return db().host(name)->lifecycle_state; };
  auto ok = submit_one(lifecycle(spec("ok", {"a", "b"})));
  auto bad = submit_one(lifecycle(spec("bad", {"c"})));
  auto early = submit_one(lifecycle(spec("early", {"z"})));
  auto late = submit_one(lifecycle(spec("late", {"y"})));
  submit_one(spec("pwr", {"p"}));
  EXPECT_EQ(state("ok"), "provisioning");
  EXPECT_EQ(state("pwr"), "new") << "a request without lifecycle states leaves the host alone";
  // Success: the last job's completion moves the host on.
  complete(claim("a").at(0));
  EXPECT_EQ(state("ok"), "provisioning");
  complete(claim("b").at(0));
  EXPECT_EQ(request(ok).state, storage::request_state::succeeded);
  EXPECT_EQ(state("ok"), "in_service");
  // Failure.
  auto j = claim("c").at(0);
  ASSERT_TRUE(db().fail({j.id, j.lease_token}, "no disk", false));
  EXPECT_EQ(request(bad).state, storage::request_state::failed);
  EXPECT_EQ(state("bad"), "provisioning_failed");
  // Cancelled before it started: back to where it was; after: the failure state.
  ASSERT_TRUE(db().cancel(early, "changed my mind"));
  EXPECT_EQ(state("early"), "new");
  claim("y");
  ASSERT_TRUE(db().cancel(late, "stop"));
  EXPECT_EQ(state("late"), "provisioning_failed");
  complete(claim("p").at(0));
  EXPECT_EQ(state("pwr"), "new");
}

TEST_P(StoreConformance, ARequestPlannedForAStateItsHostLeftIsRefusedAndNothingStored) {
  ASSERT_FALSE(db().put_hosts({host("h1")}));
  ASSERT_FALSE(hooks().set_host_state("h1", "", "in_service"));
  auto s = spec("h1", {"a"});
  s.host_state_from = "ready";
  s.host_state_during = "wiping";
  auto out = db().submit({s});
  ASSERT_FALSE(out);
  EXPECT_TRUE(is(out.error(), errc::conflict)) << message_of(out.error());
  EXPECT_NE(message_of(out.error()).find("from ready to in_service"), std::string::npos)
      << message_of(out.error());
  EXPECT_EQ(db().host("h1")->lifecycle_state, "in_service");
  s.host_state_from = "in_service";
  EXPECT_TRUE(db().submit({s}));
  EXPECT_EQ(db().host("h1")->lifecycle_state, "wiping");
}

TEST_P(StoreConformance, AuditEntriesAreWrittenInBatches) {
  std::vector<storage::audit_entry> batch(100);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].actor = "bot";
    batch[i].action = "GET /v1/requests/{id}";
    batch[i].target = std::to_string(i);
    batch[i].decision = "accepted";
  }
  ASSERT_FALSE(db().audit(batch));
  ASSERT_FALSE(db().audit(std::vector<storage::audit_entry>{}));
  storage::audit_filter f;
  f.limit = 1000;
  auto all = db().audit_log(f);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 100u);
  EXPECT_EQ(all->front().target, "99") << "order kept";
  EXPECT_EQ(all->back().target, "0");
  EXPECT_EQ(all->front().at, clock_->now());
}

TEST_P(StoreConformance, OpeningAgainLeavesTheSchemaAndDataAsTheyAre) {
  auto id = submit_one(spec("h1"));
  auto version = hooks().schema_version();
  EXPECT_GE(version, 1);
  auto again = store_->reopen();
  ASSERT_TRUE(again) << message_of(again.error());
  EXPECT_EQ(test_hooks_of(**again).schema_version(), version);
  auto r = (*again)->request(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "h1");
}

TEST_P(StoreConformance, ASchemaANewerReleaseContractedIsRefused) {
  // A migration this binary does not know dropped what this release still uses.
  store_->raw_sql(
      "INSERT INTO schema_migrations (version, applied_at, compatible_since) VALUES (9999, 0, "
      "9998)");
  auto again = store_->reopen();
  ASSERT_FALSE(again);
  EXPECT_TRUE(is(again.error(), errc::schema_too_new)) << message_of(again.error());
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, APingReachesTheDatabase) {
  EXPECT_FALSE(db().ping());
}

}  // namespace ab::testing
