// Conformance: retention. Old finished requests (with their jobs, callbacks and events) and
// old audit entries are pruned in bounded batches; active requests and those inside the
// idempotency window stay.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

constexpr time_ms hour = 3600 * 1000;
constexpr time_ms day = 24 * hour;

}  // namespace

/// The helpers of the retention tests, inside each test body (they use the fixture's).
#define RETENTION_HELPERS                                                                    \
  auto finished = [&](const std::string& host, const std::string& key = "") {                \
    auto s = spec(host);                                                                     \
    s.idempotency_key = key;                                                                 \
    auto id = submit_one(s);                                                                 \
    auto jobs = claim("t");                                                                  \
    EXPECT_EQ(jobs.size(), 1u);                                                              \
    if (!jobs.empty()) complete(jobs[0]);                                                    \
    EXPECT_EQ(request(id).state, storage::request_state::succeeded);                         \
    return id;                                                                               \
  };                                                                                         \
  auto prune = [&](storage::retention keep, std::size_t limit = 100) {                       \
    auto out = db().prune(keep, limit);                                                      \
    EXPECT_TRUE(out) << message_of(out.error());                                             \
    return out ? *out : storage::prune_result{};                                             \
  };                                                                                         \
  auto exists = [&](storage::request_id id) { return static_cast<bool>(db().request(id)); }; \
  auto audit_rows = [&] {                                                                    \
    storage::audit_filter f;                                                                 \
    f.limit = 1000;                                                                          \
    auto rows = db().audit_log(f);                                                           \
    return rows ? rows->size() : 0;                                                          \
  };                                                                                         \
  (void)finished, (void)prune, (void)exists, (void)audit_rows

TEST_P(StoreConformance, RetentionOldFinishedRequestsAndAuditGoWithTheirJobsCallbacksAndEvents) {
  RETENTION_HELPERS;
  auto done = finished("a");
  ASSERT_FALSE(db().issue_callback({done, "digest", "install:a", clock_->now() + hour}));
  ASSERT_TRUE(db().wake("install:a", "{}")) << "kept as a pending event: nobody is parked";
  ASSERT_TRUE(db().wake("orphan", "{}"));
  auto cancelled = submit_one(spec("c"));
  ASSERT_TRUE(db().cancel(cancelled, "no"));
  auto running = submit_one(spec("b", {"t", "u"}));
  ASSERT_EQ(claim("t").size(), 1u);
  ASSERT_TRUE(db().audit({0, 0, "alice", "10.0.0.1", "GET /v1/hosts", "*", "accepted", "200"}));
  clock_->advance(3 * day);
  auto recent = finished("d");
  ASSERT_FALSE(db().audit(std::vector<storage::audit_entry>{
      {0, 0, "bob", "10.0.0.2", "GET /v1/hosts", "*", "accepted", "200"}}));

  auto out = prune({2 * day, 2 * day});
  EXPECT_EQ(out.requests, 2u);
  EXPECT_EQ(out.audit, 1u);
  EXPECT_EQ(out.events, 2u) << "the callback's pending event and the orphan";
  EXPECT_FALSE(exists(done));
  EXPECT_FALSE(exists(cancelled));
  EXPECT_TRUE(exists(running)) << "active requests are never pruned";
  EXPECT_EQ(request(running).jobs.size(), 2u);
  EXPECT_TRUE(exists(recent));
  EXPECT_EQ(audit_rows(), 1u);
  EXPECT_TRUE(is(db().redeem_callback(done, "digest", "{}"), errc::unauthenticated))
      << "its callback token is gone";
  auto again = prune({2 * day, 2 * day});
  EXPECT_EQ(again.requests + again.audit + again.events, 0u);
}

TEST_P(StoreConformance,
       RetentionAFinishedRequestOutlivesTheIdempotencyWindowWhateverTheRetention) {
  RETENTION_HELPERS;
  auto id = finished("a", "key-1");
  clock_->advance(storage::min_request_retention_ms - hour);
  EXPECT_EQ(prune({1, 0}).requests, 0u) << "a retention shorter than the window is raised to it";
  auto s = spec("a");
  s.idempotency_key = "key-1";
  auto out = db().submit({s});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::existing);
  EXPECT_EQ(out->at(0).id, id);
  clock_->advance(2 * hour);
  EXPECT_EQ(prune({1, 0}).requests, 1u);
  EXPECT_FALSE(exists(id));
}

TEST_P(StoreConformance, RetentionPruningGoesInBoundedBatchesOldestFirst) {
  RETENTION_HELPERS;
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(finished("h" + std::to_string(i)));
    clock_->advance(1000);
  }
  clock_->advance(2 * day);
  EXPECT_EQ(prune({day, 0}, 2).requests, 2u);
  EXPECT_FALSE(exists(ids[0]));
  EXPECT_FALSE(exists(ids[1]));
  EXPECT_TRUE(exists(ids[2])) << "the oldest go first";
  EXPECT_EQ(prune({day, 0}, 2).requests, 2u);
  EXPECT_EQ(prune({day, 0}, 2).requests, 1u);
  EXPECT_EQ(prune({day, 0}, 2).requests, 0u);
}

TEST_P(StoreConformance, RetentionARetentionOfZeroKeepsEverything) {
  RETENTION_HELPERS;
  auto id = finished("a");
  ASSERT_TRUE(db().audit({0, 0, "alice", "s", "a", "t", "accepted", "d"}));
  clock_->advance(3650 * day);
  auto out = prune({0, 0});
  EXPECT_EQ(out.requests + out.audit + out.events, 0u);
  EXPECT_TRUE(exists(id));
  EXPECT_EQ(audit_rows(), 1u);
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
