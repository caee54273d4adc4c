// Conformance: the store's reads of requests and hosts are single statements outside any
// transaction (one round trip each), and a connection that served such reads still runs the
// next transaction as one.

#include <algorithm>
#include <atomic>

#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"
#include "storage/mysql_store.hpp"
#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

using storage::detail::connection;
using storage::detail::connection_pool;
using storage::detail::db_error;
using storage::detail::pooled;
using storage::detail::rows;
using storage::detail::value;

/// What the store asked of its connections.
struct statement_counts {
  std::atomic<int> begins{0}, commits{0}, queries{0}, executes{0};
  /// Execute statements left before one fails (negative: none fails).
  std::atomic<int> fail_after_executes{-1};

  /// Forgets what was counted so far.
  void reset() {
    begins = 0;
    commits = 0;
    queries = 0;
    executes = 0;
  }
};

/// A connection that counts the calls it passes on to the real one.
class counting_connection final : public connection {
 public:
  counting_connection(connection& real, statement_counts& counts) : real_(real), n_(counts) {}
  void begin() override {
    ++n_.begins;
    real_.begin();
  }
  void autocommit() override { real_.autocommit(); }
  void commit() override {
    ++n_.commits;
    real_.commit();
  }
  void rollback() noexcept override { real_.rollback(); }
  std::uint64_t execute(const std::string& sql, const std::vector<value>& args) override {
    ++n_.executes;
    if (n_.fail_after_executes.load() >= 0 && n_.fail_after_executes-- == 0)
      throw db_error(db_error::kind::other, 0, "injected failure");
    return real_.execute(sql, args);
  }
  std::unique_ptr<rows> query(const std::string& sql, const std::vector<value>& args) override {
    ++n_.queries;
    return real_.query(sql, args);
  }
  void exec_raw(const std::string& sql) override { real_.exec_raw(sql); }
  std::int64_t last_insert_id() override { return real_.last_insert_id(); }

 private:
  connection& real_;
  statement_counts& n_;
};

/// A pool that lends the real pool's connections wrapped in `counting_connection`.
class counting_pool final : public connection_pool {
 public:
  counting_pool(std::unique_ptr<connection_pool> real, statement_counts& counts)
      : real_(std::move(real)), n_(counts) {}
  pooled acquire() override { return wrap(real_->acquire()); }
  pooled acquire_for_reads() override { return wrap(real_->acquire_for_reads()); }
  void lock_migrations(connection& c) override { real_->lock_migrations(c); }
  void unlock_migrations(connection& c) noexcept override { real_->unlock_migrations(c); }
  const storage::detail::dialect& sql() const override { return real_->sql(); }
  std::string now_ms_sql() const override { return real_->now_ms_sql(); }

 private:
  pooled wrap(pooled real) {
    auto held = std::make_shared<pooled>(std::move(real));
    auto* c = new counting_connection(**held, n_);
    return pooled{c, [held](connection* conn, bool broken) mutable {
                    delete conn;
                    if (broken) held->mark_broken();
                    held.reset();
                  }};
  }

  std::unique_ptr<connection_pool> real_;
  statement_counts& n_;
};

/// A second store on the database of `db` (backend `backend`) whose statements go to
/// `counts`, with `connections` connections (SQLite has one).
std::unique_ptr<storage::detail::sql_store> counted_store(const scratch_store& db,
                                                          const std::string& backend,
                                                          std::shared_ptr<const ab::clock> clk,
                                                          statement_counts& counts,
                                                          std::size_t connections) {
  std::unique_ptr<connection_pool> real;
  if (backend == "sqlite") {
    real = storage::detail::make_sqlite_pool(db.url().substr(std::string{"sqlite:"}.size()));
  } else {
    auto target = storage::parse_mysql_url(db.url());
    EXPECT_TRUE(target);
    if (!target) return nullptr;
    real = storage::detail::make_mysql_pool(*target, connections);
  }
  auto s = std::make_unique<storage::detail::sql_store>(
      std::make_unique<counting_pool>(std::move(real), counts), std::move(clk),
      storage::queue_policy{});
  EXPECT_FALSE(s->open());
  return s;
}

storage::host_record host(const std::string& name) {
  storage::host_record h;
  h.name = name;
  h.site = "dc1";
  h.bmc_endpoint = "https://bmc-" + name;
  h.credential_ref = "file:/etc/ab/bmc";
  return h;
}

}  // namespace

TEST_P(StoreConformance, ARequestWithItsJobsIsReadInOneStatementWithoutATransaction) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  auto id = submit_one(spec("h1", {"a", "b", "c"}));
  counts.reset();
  auto r = counted->request(id);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(counts.queries.load(), 1);
  EXPECT_EQ(counts.begins.load(), 0);
  EXPECT_EQ(counts.commits.load(), 0);
  EXPECT_EQ(r->host, "h1");
  ASSERT_EQ(r->jobs.size(), 3u);
  EXPECT_EQ(r->jobs[0].type, "a");
  EXPECT_EQ(r->jobs[2].type, "c");
  EXPECT_EQ(r->jobs[2].position, 2);
  // One that does not exist is not found.
  auto missing = counted->request(id + 1000);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(is(missing.error(), errc::not_found));
}

TEST_P(StoreConformance, AHeldRequestIsReadWithItsHoldAndThePausesFlagInTheSameStatement) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  ASSERT_FALSE(db().put_hosts({host("h1")}));
  auto id = submit_one(spec("h1", {"a", "b"}));
  ASSERT_TRUE(db().place_hold({"h1", "", "disk swap", "alice"}, ""));
  ASSERT_TRUE(db().place_pause({"site", "dc9", "power work", "bob", 0}, ""));
  counts.reset();
  auto r = counted->request(id);
  ASSERT_TRUE(r) << message_of(r.error());
  // What a GET needs to say why the request waits, in the one statement: no hold or pause
  // lookup of its own.
  EXPECT_EQ(counts.queries.load(), 1);
  EXPECT_EQ(counts.begins.load(), 0);
  ASSERT_TRUE(r->host_hold);
  EXPECT_EQ(r->host_hold->reason, "disk swap");
  EXPECT_TRUE(r->pauses_in_force);
  ASSERT_EQ(r->jobs.size(), 2u);
}

TEST_P(StoreConformance, ManyRequestsAreReadInOneStatementEachAsItIsReadAlone) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  ASSERT_FALSE(db().put_hosts({host("h1"), host("h2"), host("h3")}));
  std::vector<storage::request_id> ids{submit_one(spec("h1", {"a", "b", "c"})),
                                       submit_one(spec("h2", {"d"})),
                                       submit_one(spec("h3", {"e", "f"}))};
  ASSERT_TRUE(db().place_hold({"h2", "", "disk swap", "alice"}, ""));
  // The first job of the first chain done: the next is ready, the count says one.
  complete(claim("a").at(0));
  counts.reset();
  // Out of order, one twice, one that does not exist.
  auto views = counted->requests_by_id({ids[2], ids[0], ids[1], ids[0], ids[2] + 1000});
  ASSERT_TRUE(views) << message_of(views.error());
  EXPECT_EQ(counts.queries.load(), 1);
  EXPECT_EQ(counts.begins.load(), 0);
  ASSERT_EQ(views->size(), 3u);
  for (auto id : ids) {
    auto alone = db().request(id);
    ASSERT_TRUE(alone);
    auto it = std::find_if(views->begin(), views->end(),
                           [&](const storage::request_view& v) { return v.id == id; });
    ASSERT_NE(it, views->end()) << id;
    EXPECT_EQ(it->host, alone->host);
    EXPECT_EQ(it->state, alone->state);
    EXPECT_EQ(it->chain_length, alone->chain_length);
    EXPECT_EQ(it->jobs_done, alone->jobs_done);
    EXPECT_EQ(it->pauses_in_force, alone->pauses_in_force);
    ASSERT_EQ(it->host_hold.has_value(), alone->host_hold.has_value()) << id;
    if (it->host_hold) {
      EXPECT_EQ(it->host_hold->reason, alone->host_hold->reason);
    }
    ASSERT_EQ(it->jobs.size(), alone->jobs.size()) << id;
    for (std::size_t j = 0; j < it->jobs.size(); ++j) {
      EXPECT_EQ(it->jobs[j].id, alone->jobs[j].id);
      EXPECT_EQ(it->jobs[j].type, alone->jobs[j].type);
      EXPECT_EQ(it->jobs[j].state, alone->jobs[j].state);
      EXPECT_EQ(it->jobs[j].position, static_cast<int>(j));
    }
  }
  auto first = std::find_if(views->begin(), views->end(),
                            [&](const storage::request_view& v) { return v.id == ids[0]; });
  EXPECT_EQ(first->jobs_done, 1);
  // None of them: nothing, and no error.
  auto none = counted->requests_by_id({ids[2] + 1000, ids[2] + 1001});
  ASSERT_TRUE(none) << message_of(none.error());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, MoreThan64RequestsAreReadInStatementsOf64) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 70; ++i) ids.push_back(submit_one(spec("m" + std::to_string(i), {"a", "b"})));
  counts.reset();
  auto views = counted->requests_by_id(ids);
  ASSERT_TRUE(views) << message_of(views.error());
  EXPECT_EQ(counts.queries.load(), 2);
  ASSERT_EQ(views->size(), 70u);
  for (const auto& v : *views) EXPECT_EQ(v.jobs.size(), 2u) << v.id;
}

TEST_P(StoreConformance, HostsAreReadWithoutATransaction) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  ASSERT_FALSE(db().put_hosts({host("h1"), host("h2")}));
  counts.reset();
  auto one = counted->host("h1");
  ASSERT_TRUE(one) << message_of(one.error());
  auto found = counted->find_hosts({"h1", "h2", "h3", "h4"});
  ASSERT_TRUE(found) << message_of(found.error());
  EXPECT_EQ(found->size(), 2u);
  auto listed = counted->hosts({});
  ASSERT_TRUE(listed) << message_of(listed.error());
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_EQ(counts.queries.load(), 3);
  EXPECT_EQ(counts.begins.load(), 0);
  EXPECT_EQ(counts.commits.load(), 0);
}

TEST_P(StoreConformance, ATransactionAfterReadsOnTheSameConnectionStillRollsBackAsAWhole) {
  // One connection: the reads leave it committing each statement, the submission must make it
  // transactional again.
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  auto id = submit_one(spec("h1", {"a"}));
  ASSERT_TRUE(counted->request(id));
  // The submission inserts its request, then fails inserting its jobs.
  counts.fail_after_executes = 1;
  auto out = counted->submit({spec("h2", {"a", "b"})});
  EXPECT_FALSE(out);
  counts.fail_after_executes = -1;
  storage::request_filter f;
  f.host = "h2";
  auto page = db().requests(f);
  ASSERT_TRUE(page) << message_of(page.error());
  EXPECT_TRUE(page->items.empty()) << "the failed submission left its request behind";
  // And the connection serves the next submission and read as before.
  auto again = counted->submit({spec("h2", {"a", "b"})});
  ASSERT_TRUE(again) << message_of(again.error());
  auto r = counted->request(again->at(0).id);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->jobs.size(), 2u);
}

TEST_P(StoreConformance, ACompletionWhoseJobsAllReadyTheirNextRunsNoStatementForFinishedRequests) {
  statement_counts counts;
  auto counted = counted_store(*store_, GetParam(), clock_, counts, 1);
  ASSERT_TRUE(counted);
  auto first = submit_one(spec("h1", {"a", "b"}));
  auto second = submit_one(spec("h2", {"a", "b"}));
  auto jobs = claim("a");
  ASSERT_EQ(jobs.size(), 2u);
  std::vector<storage::completion> done;
  for (const auto& j : jobs) done.push_back({{j.id, j.lease_token}, ""});
  counts.reset();
  auto res = counted->complete(done);
  ASSERT_TRUE(res) << message_of(res.error());
  EXPECT_EQ(res->completed, 2u);
  EXPECT_TRUE(res->succeeded.empty());
  // The jobs marked done and their chains' next jobs readied: nothing else to do.
  EXPECT_EQ(counts.executes.load(), 2);
  // The last jobs still finish their requests (and only those).
  auto last = claim("b", 1);
  ASSERT_EQ(last.size(), 1u);
  auto finished = complete(last[0]);
  ASSERT_EQ(finished.succeeded.size(), 1u);
  EXPECT_EQ(request(last[0].request).state, storage::request_state::succeeded);
  auto other = last[0].request == first ? second : first;
  EXPECT_EQ(request(other).state, storage::request_state::running);
}

TEST_P(StoreConformance, APageCountsEachRequestsDoneStepsAcrossMoreThan64Requests) {
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 70; ++i)
    ids.push_back(submit_one(spec("h" + std::to_string(i), {"a", "b", "c"})));
  // Requests with an even index finish step a, those divisible by 4 step b too.
  for (const auto& j : claim("a", 100))
    if (std::find(ids.begin(), ids.end(), j.request) - ids.begin() < 70 &&
        (std::find(ids.begin(), ids.end(), j.request) - ids.begin()) % 2 == 0)
      complete(j);
  for (const auto& j : claim("b", 100))
    if ((std::find(ids.begin(), ids.end(), j.request) - ids.begin()) % 4 == 0) complete(j);
  storage::request_filter f;
  f.limit = 100;
  auto page = db().requests(f);
  ASSERT_TRUE(page) << message_of(page.error());
  ASSERT_EQ(page->items.size(), 70u);
  for (const auto& r : page->items) {
    auto index = std::find(ids.begin(), ids.end(), r.id) - ids.begin();
    EXPECT_EQ(r.jobs_done, index % 4 == 0 ? 2 : index % 2 == 0 ? 1 : 0) << "request " << index;
  }
}

}  // namespace ab::testing
