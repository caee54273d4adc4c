// Conformance: retention. Old finished requests (with their jobs, callbacks and events) and
// old audit entries are pruned in bounded batches; active requests and those inside the
// idempotency window stay.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

constexpr time_ms hour = 3600 * 1000;
constexpr time_ms day = 24 * hour;

/// Submits a one-job request for `host` (with `key`) and runs it to success; returns its id.
storage::request_id finished(storage::job_queue& db, const std::string& host,
                             const std::string& key = "") {
  storage::request_spec s;
  s.action = "test";
  s.host = host;
  s.site = "dc1";
  s.submitter = "tester";
  s.idempotency_key = key;
  s.chain = {{"t", 3, 0}};
  auto out = db.submit({s});
  EXPECT_TRUE(out && out->at(0).what == storage::submit_outcome::status::created);
  if (!out) return 0;
  auto jobs = db.claim("node-a", "t", 1, 30000);
  EXPECT_TRUE(jobs && jobs->size() == 1u);
  if (jobs && !jobs->empty()) {
    EXPECT_TRUE(db.complete({{{jobs->at(0).id, jobs->at(0).lease_token}, ""}}));
  }
  EXPECT_EQ(db.request(out->at(0).id)->state, storage::request_state::succeeded);
  return out->at(0).id;
}

storage::prune_result prune(storage::retention_store& db, storage::retention keep,
                            std::size_t limit = 100) {
  auto out = db.prune(keep, limit);
  EXPECT_TRUE(out) << message_of(out.error());
  return out ? *out : storage::prune_result{};
}

bool exists(storage::job_queue& db, storage::request_id id) {
  return static_cast<bool>(db.request(id));
}

std::size_t audit_rows(storage::audit_store& db) {
  storage::audit_filter f;
  f.limit = 1000;
  auto rows = db.audit_log(f);
  EXPECT_TRUE(rows);
  return rows ? rows->size() : 0;
}

}  // namespace

TEST_P(StoreConformance, RetentionOldFinishedRequestsAndAuditGoWithTheirJobsCallbacksAndEvents) {
  auto done = finished(db(), "a");
  ASSERT_FALSE(db().issue_callback({done, "digest", "install:a", clock_->now() + hour}));
  ASSERT_TRUE(hooks().wake("install:a", "{}")) << "kept as a pending event: nobody is parked";
  ASSERT_TRUE(hooks().wake("orphan", "{}"));
  auto cancelled = submit_one(spec("c"));
  ASSERT_TRUE(db().cancel(cancelled, "no"));
  auto running = submit_one(spec("b", {"t", "u"}));
  ASSERT_EQ(claim("t").size(), 1u);
  ASSERT_TRUE(db().audit({0, 0, "alice", "10.0.0.1", "GET /v1/hosts", "*", "accepted", "200"}));
  clock_->advance(3 * day);
  auto recent = finished(db(), "d");
  ASSERT_FALSE(db().audit(std::vector<storage::audit_entry>{
      {0, 0, "bob", "10.0.0.2", "GET /v1/hosts", "*", "accepted", "200"}}));

  auto out = prune(db(), {2 * day, 2 * day});
  EXPECT_EQ(out.requests, 2u);
  EXPECT_EQ(out.audit, 1u);
  EXPECT_EQ(out.events, 2u) << "the callback's pending event and the orphan";
  EXPECT_FALSE(exists(db(), done));
  EXPECT_FALSE(exists(db(), cancelled));
  EXPECT_TRUE(exists(db(), running)) << "active requests are never pruned";
  EXPECT_EQ(request(running).jobs.size(), 2u);
  EXPECT_TRUE(exists(db(), recent));
  EXPECT_EQ(audit_rows(db()), 1u);
  EXPECT_TRUE(is(db().redeem_callback(done, "digest", "{}"), errc::unauthenticated))
      << "its callback token is gone";
  auto again = prune(db(), {2 * day, 2 * day});
  EXPECT_EQ(again.requests + again.audit + again.events, 0u);
}

TEST_P(StoreConformance,
       RetentionAFinishedRequestOutlivesTheIdempotencyWindowWhateverTheRetention) {
  auto id = finished(db(), "a", "key-1");
  clock_->advance(storage::min_request_retention_ms - hour);
  EXPECT_EQ(prune(db(), {1, 0}).requests, 0u)
      << "a retention shorter than the window is raised to it";
  auto s = spec("a");
  s.idempotency_key = "key-1";
  auto out = db().submit({s});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::existing);
  EXPECT_EQ(out->at(0).id, id);
  clock_->advance(2 * hour);
  EXPECT_EQ(prune(db(), {1, 0}).requests, 1u);
  EXPECT_FALSE(exists(db(), id));
}

TEST_P(StoreConformance, RetentionPruningGoesInBoundedBatchesOldestFirst) {
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(finished(db(), "h" + std::to_string(i)));
    clock_->advance(1000);
  }
  clock_->advance(2 * day);
  EXPECT_EQ(prune(db(), {day, 0}, 2).requests, 2u);
  EXPECT_FALSE(exists(db(), ids[0]));
  EXPECT_FALSE(exists(db(), ids[1]));
  EXPECT_TRUE(exists(db(), ids[2])) << "the oldest go first";
  EXPECT_EQ(prune(db(), {day, 0}, 2).requests, 2u);
  EXPECT_EQ(prune(db(), {day, 0}, 2).requests, 1u);
  EXPECT_EQ(prune(db(), {day, 0}, 2).requests, 0u);
}

TEST_P(StoreConformance, RetentionARetentionOfZeroKeepsEverything) {
  auto id = finished(db(), "a");
  ASSERT_TRUE(db().audit({0, 0, "alice", "s", "a", "t", "accepted", "d"}));
  clock_->advance(3650 * day);
  auto out = prune(db(), {0, 0});
  EXPECT_EQ(out.requests + out.audit + out.events, 0u);
  EXPECT_TRUE(exists(db(), id));
  EXPECT_EQ(audit_rows(db()), 1u);
}

TEST_P(StoreConformance, AuditEntriesAreStoredBoundedAndAsValidText) {
  storage::audit_entry e{0,
                         0,
                         std::string(5000, 'a'),
                         "10.0.0.1",
                         "GET /v1/hosts/{name}",
                         "/v1/hosts/" + std::string(100000, 'x') + "\xff",
                         "denied",
                         "bad \xc3\x28 byte"};
  ASSERT_TRUE(db().audit(e));
  ASSERT_FALSE(db().audit(std::vector<storage::audit_entry>{e}));
  auto rows = db().audit_log({});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  for (const auto& r : *rows) {
    EXPECT_EQ(r.actor.size(), storage::audit_name_limit);
    EXPECT_LE(r.target.size(), storage::audit_text_limit);
    EXPECT_NE(r.target.find(storage::truncation_marker), std::string::npos);
    EXPECT_EQ(r.detail, "bad \uFFFD( byte");
  }
}

}  // namespace ab::testing
