// A transaction cut by a database failover runs again as a whole, and a COMMIT whose answer
// was lost with the connection is neither lost nor applied twice (faults injected at the
// driver surface, on either backend).

#include <memory>

#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"
#include "storage/mysql_store.hpp"
#include "tests/storage/conformance_test.hpp"
#include "tests/storage/faulty_pool.hpp"

namespace ab::testing {

namespace {

/// What a test injects into the next COMMIT (or, for `not_ready`, the next statement).
enum class fault {
  /// It commits, and its answer is lost with the connection.
  answer_lost,
  /// It never reaches the server: the transaction rolls back and the connection breaks.
  never_committed,
  /// It fails as Galera's certification failure does.
  certification_failure,
  /// The statement fails as on a Galera node that is not ready.
  not_ready,
};

/// A second store on the scratch database, whose connections fail as `plan` says.
class faulty_store {
 public:
  faulty_store(const scratch_store& scratch, std::shared_ptr<const ab::clock> clk,
               storage::queue_policy policy) {
    std::unique_ptr<storage::detail::connection_pool> inner;
    const auto& url = scratch.url();
    if (url.rfind("sqlite:", 0) == 0) {
      inner = storage::detail::make_sqlite_pool(url.substr(7));
    } else {
      auto target = storage::parse_mysql_url(url);
      if (!target) return;
      inner = storage::detail::make_mysql_pool(*target, 4);
    }
    auto s = std::make_unique<storage::detail::sql_store>(
        std::make_unique<faulty_pool>(std::move(inner), plan), std::move(clk), std::move(policy));
    if (auto err = s->open()) {
      ADD_FAILURE() << message_of(err);
      return;
    }
    store_ = std::move(s);
  }

  /// Whether the store opened.
  explicit operator bool() const { return store_ != nullptr; }

  /// The store, with `f` armed for its next COMMIT (or statement).
  storage::detail::sql_store& next(fault f) {
    switch (f) {
      case fault::answer_lost:
        plan.lose_answer_after_commit = true;
        break;
      case fault::never_committed:
        plan.break_before_commit = true;
        break;
      case fault::certification_failure:
        plan.fail_certification = true;
        break;
      case fault::not_ready:
        plan.not_ready = true;
        break;
    }
    return *store_;
  }

  fault_plan plan;

 private:
  std::unique_ptr<storage::detail::sql_store> store_;
};

}  // namespace

TEST_P(StoreConformance, AClaimWhoseCommitAnswerWasLostIsNotClaimedTwice) {
  auto first = submit_one(spec("h1"));
  auto second = submit_one(spec("h2"));
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  faulty.plan.commits = 0;
  auto jobs = faulty.next(fault::answer_lost).claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  ASSERT_EQ(jobs->size(), 1u);
  // The claim that committed is the answer: run again, it would have taken h2's job too and
  // left h1's running under a lease nobody knows.
  EXPECT_EQ(jobs->at(0).request, first);
  EXPECT_EQ(faulty.plan.commits, 1);
  EXPECT_EQ(request(second).jobs[0].state, storage::job_state::ready);
  auto done = complete(jobs->at(0));
  EXPECT_EQ(done.completed, 1u);
  EXPECT_EQ(request(first).state, storage::request_state::succeeded);
}

TEST_P(StoreConformance, AClaimWhoseCommitNeverHappenedRunsAgain) {
  auto first = submit_one(spec("h1"));
  submit_one(spec("h2"));
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto jobs = faulty.next(fault::never_committed).claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->at(0).request, first);
  EXPECT_EQ(jobs->at(0).attempt, 1);
  EXPECT_EQ(complete(jobs->at(0)).completed, 1u);
}

TEST_P(StoreConformance, ASubmissionWhoseCommitAnswerWasLostIsCreatedOnce) {
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  // No idempotency key: run again, the submission would find its own request and answer
  // host_busy, and the caller would never learn the id of what it created.
  auto out = faulty.next(fault::answer_lost).submit({spec("h1")});
  ASSERT_TRUE(out) << message_of(out.error());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::created);
  storage::request_filter f;
  f.host = "h1";
  auto page = db().requests(f);
  ASSERT_TRUE(page) << message_of(page.error());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, out->at(0).id);
}

TEST_P(StoreConformance, ACompletionWhoseCommitAnswerWasLostCountsAsDone) {
  auto id = submit_one(spec("h1", {"a", "b"}));
  auto jobs = claim("a");
  ASSERT_EQ(jobs.size(), 1u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto done = faulty.next(fault::answer_lost).complete({{{jobs[0].id, jobs[0].lease_token}, "ok"}});
  ASSERT_TRUE(done) << message_of(done.error());
  EXPECT_EQ(done->completed, 1u);
  EXPECT_TRUE(done->lost.empty());
  EXPECT_EQ(request(id).jobs[1].state, storage::job_state::ready);
}

TEST_P(StoreConformance, ACompleteAndClaimWhoseCommitAnswerWasLostKeepsBoth) {
  submit_one(spec("h1", {"a", "a"}));
  auto second = submit_one(spec("h2", {"a"}));
  auto jobs = claim("a", 1);
  ASSERT_EQ(jobs.size(), 1u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto cycle = faulty.next(fault::answer_lost)
                   .complete_and_claim({{{jobs[0].id, jobs[0].lease_token}, ""}}, "node-a", "a", 1,
                                       30000, {});
  ASSERT_TRUE(cycle) << message_of(cycle.error());
  EXPECT_EQ(cycle->completed.completed, 1u);
  ASSERT_EQ(cycle->claimed.size(), 1u);
  // Exactly one more job runs, the one handed back; the other stays ready.
  auto a = request(jobs[0].request), b = request(second);
  int running = (a.jobs[1].state == storage::job_state::running) +
                (b.jobs[0].state == storage::job_state::running);
  EXPECT_EQ(running, 1);
  EXPECT_EQ(complete(cycle->claimed[0]).completed, 1u);
}

TEST_P(StoreConformance, AFailWhoseCommitAnswerWasLostIsNotReportedAsLeaseLost) {
  auto retried = submit_one(spec("h1"));
  auto failed = submit_one(spec("h2"));
  auto jobs = claim("t", 2);
  ASSERT_EQ(jobs.size(), 2u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  for (const auto& j : jobs) {
    bool retry = j.request == retried;
    faulty.plan.commits = 0;
    // Run again, the repeat would find the job no longer running under its lease.
    auto out = faulty.next(fault::answer_lost).fail({j.id, j.lease_token}, "boom", retry);
    ASSERT_TRUE(out) << message_of(out.error());
    EXPECT_EQ(out->retrying, retry);
    EXPECT_EQ(faulty.plan.commits, 1);
  }
  auto a = request(retried);
  EXPECT_EQ(a.jobs[0].state, storage::job_state::ready);
  EXPECT_EQ(a.jobs[0].attempts, 1);
  EXPECT_EQ(request(failed).state, storage::request_state::failed);
}

TEST_P(StoreConformance, AFailWhoseCommitNeverHappenedRunsAgain) {
  auto id = submit_one(spec("h1"));
  auto jobs = claim("t");
  ASSERT_EQ(jobs.size(), 1u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto out =
      faulty.next(fault::never_committed).fail({jobs[0].id, jobs[0].lease_token}, "boom", false);
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(request(id).state, storage::request_state::failed);
}

TEST_P(StoreConformance, ADeferWhoseCommitAnswerWasLostCountsOnce) {
  auto id = submit_one(spec("h1"));
  auto jobs = claim("t");
  ASSERT_EQ(jobs.size(), 1u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto err = faulty.next(fault::answer_lost)
                 .defer({jobs[0].id, jobs[0].lease_token}, clock_->now(), "breaker open");
  EXPECT_FALSE(err) << message_of(err);
  auto job = request(id).jobs[0];
  EXPECT_EQ(job.state, storage::job_state::ready);
  EXPECT_EQ(job.attempts, 0) << "the deferral gave its attempt back once";
  auto again = claim("t");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
}

TEST_P(StoreConformance, AParkWhoseCommitAnswerWasLostLeavesTheJobParked) {
  auto id = submit_one(spec("h1"));
  auto jobs = claim("t");
  ASSERT_EQ(jobs.size(), 1u);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto err = faulty.next(fault::answer_lost)
                 .park({jobs[0].id, jobs[0].lease_token}, "installed:h1", clock_->now() + 60000);
  EXPECT_FALSE(err) << message_of(err);
  EXPECT_EQ(request(id).jobs[0].state, storage::job_state::parked);
  auto woke = hooks().wake("installed:h1", "done");
  ASSERT_TRUE(woke) << message_of(woke.error());
  EXPECT_TRUE(*woke);
  EXPECT_EQ(claim("t").size(), 1u);
}

TEST_P(StoreConformance, AParkThatTookAnEarlyEventKeepsItAfterALostCommitAnswer) {
  auto id = submit_one(spec("h1"));
  auto jobs = claim("t");
  ASSERT_EQ(jobs.size(), 1u);
  auto woke = hooks().wake("installed:h1", "early");
  ASSERT_TRUE(woke) << message_of(woke.error());
  EXPECT_FALSE(*woke);
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto err = faulty.next(fault::answer_lost)
                 .park({jobs[0].id, jobs[0].lease_token}, "installed:h1", clock_->now() + 60000);
  EXPECT_FALSE(err) << message_of(err);
  EXPECT_EQ(request(id).jobs[0].state, storage::job_state::ready);
}

TEST_P(StoreConformance, ANodeIdClaimWhoseCommitAnswerWasLostIsHeld) {
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  // Run again, the claim would find its own row and refuse its own process.
  auto claim = faulty.next(fault::answer_lost).claim_node("n1", "only", 60000);
  ASSERT_TRUE(claim) << message_of(claim.error());
  EXPECT_TRUE((*claim)->refresh());
  EXPECT_FALSE(db().claim_node("n1", "other", 60000));
}

TEST_P(StoreConformance, ACertificationFailureAtCommitRunsTheWholeTransactionAgain) {
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto out = faulty.next(fault::certification_failure).submit({spec("h1", {"a", "b"})});
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::created);
  auto view = request(out->at(0).id);
  ASSERT_EQ(view.jobs.size(), 2u);
  EXPECT_EQ(view.jobs[0].state, storage::job_state::ready);
  EXPECT_EQ(view.jobs[1].state, storage::job_state::waiting);
}

TEST_P(StoreConformance, ANodeThatIsNotReadyIsLeftForAnotherConnection) {
  auto id = submit_one(spec("h1"));
  faulty_store faulty{*store_, clock_, policy()};
  ASSERT_TRUE(faulty);
  auto view = faulty.next(fault::not_ready).request(id);
  ASSERT_TRUE(view) << message_of(view.error());
  EXPECT_EQ(view->id, id);
  auto jobs = faulty.next(fault::not_ready).claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  EXPECT_EQ(jobs->size(), 1u);
}

}  // namespace ab::testing
