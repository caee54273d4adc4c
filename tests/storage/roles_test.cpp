// Conformance: the store's roles. Each role works through its own interface alone, and all
// of them are views of the one database: what one role writes, another sees.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

constexpr time_ms day = 24 * 3600 * 1000;

storage::host_record host_in(const std::string& name, const std::string& site) {
  return {name, site, "https://bmc." + name, "file:" + name, "ready", "{}", 0, 0};
}

}  // namespace

TEST_P(StoreConformance, TheQueueAndTheInventoryAreOneDatabase) {
  storage::host_inventory& inventory = db();
  storage::job_queue& queue = db();
  ASSERT_FALSE(inventory.put_hosts({host_in("r1", "dc1")}));

  auto out = queue.submit({spec("r1")});
  ASSERT_TRUE(out) << message_of(out.error());
  ASSERT_EQ(out->at(0).what, storage::submit_outcome::status::created);
  EXPECT_TRUE(is(inventory.delete_host("r1"), errc::host_busy))
      << "the inventory sees the queue's active request";

  auto jobs = queue.claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs && jobs->size() == 1u);
  ASSERT_TRUE(queue.complete({{{jobs->at(0).id, jobs->at(0).lease_token}, ""}}));
  EXPECT_FALSE(inventory.delete_host("r1")) << "the request ended: the host may go";
  auto gone = inventory.host("r1");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(is(gone.error(), errc::not_found));
}

TEST_P(StoreConformance, TheNodeRegistryWorksAlone) {
  storage::node_registry& registry = db();
  ASSERT_FALSE(registry.heartbeat({"n1", "dc1", "build", "10.0.0.1:8080", 0}));
  auto nodes = registry.nodes();
  ASSERT_TRUE(nodes) << message_of(nodes.error());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ(nodes->at(0).id, "n1");
  EXPECT_EQ(nodes->at(0).last_seen, clock_->now());

  auto claim = registry.claim_node("n1", "inc1", 30000);
  ASSERT_TRUE(claim) << message_of(claim.error());
  EXPECT_TRUE((*claim)->refresh());
  auto t = registry.database_time();
  ASSERT_TRUE(t) << message_of(t.error());
  EXPECT_GT(*t, 0);
}

TEST_P(StoreConformance, RetentionRemovesWhatTheQueueAndTheAuditTrailKept) {
  storage::job_queue& queue = db();
  storage::audit_store& audit = db();
  storage::retention_store& retention = db();

  auto out = queue.submit({spec("r2")});
  ASSERT_TRUE(out && out->at(0).what == storage::submit_outcome::status::created);
  auto id = out->at(0).id;
  auto jobs = queue.claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs && jobs->size() == 1u);
  ASSERT_TRUE(queue.complete({{{jobs->at(0).id, jobs->at(0).lease_token}, ""}}));
  auto entry = audit.audit({0, 0, "alice", "test", "submit", "r2", "allowed", ""});
  ASSERT_TRUE(entry) << message_of(entry.error());

  clock_->advance(storage::min_request_retention_ms + day);
  auto pruned = retention.prune({storage::min_request_retention_ms, day}, 100);
  ASSERT_TRUE(pruned) << message_of(pruned.error());
  EXPECT_EQ(pruned->requests, 1u);
  EXPECT_EQ(pruned->audit, 1u);
  auto pruned_request = queue.request(id);
  ASSERT_FALSE(pruned_request);
  EXPECT_TRUE(is(pruned_request.error(), errc::not_found));
  auto left = audit.audit_log({});
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

}  // namespace ab::testing
