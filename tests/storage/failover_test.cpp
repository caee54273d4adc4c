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

/// A second store on the scratch database, whose connections fail as `plan` says.
std::unique_ptr<storage::detail::sql_store> faulty_store(const scratch_store& scratch,
                                                         std::shared_ptr<const ab::clock> clk,
                                                         storage::queue_policy policy,
                                                         fault_plan& plan) {
  std::unique_ptr<storage::detail::connection_pool> inner;
  const auto& url = scratch.url();
  if (url.rfind("sqlite:", 0) == 0) {
    inner = storage::detail::make_sqlite_pool(url.substr(7));
  } else {
    auto target = storage::parse_mysql_url(url);
    if (!target) return nullptr;
    inner = storage::detail::make_mysql_pool(*target, 4);
  }
  auto s = std::make_unique<storage::detail::sql_store>(
      std::make_unique<faulty_pool>(std::move(inner), plan), std::move(clk), std::move(policy));
  if (auto err = s->open()) {
    ADD_FAILURE() << message_of(err);
    return nullptr;
  }
  return s;
}

}  // namespace

TEST_P(StoreConformance, AClaimWhoseCommitAnswerWasLostIsNotClaimedTwice) {
  auto first = submit_one(spec("h1"));
  auto second = submit_one(spec("h2"));
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.commits = 0;
  plan.lose_answer_after_commit = true;
  auto jobs = faulty->claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  ASSERT_EQ(jobs->size(), 1u);
  // The claim that committed is the answer: run again, it would have taken h2's job too and
  // left h1's running under a lease nobody knows.
  EXPECT_EQ(jobs->at(0).request, first);
  EXPECT_EQ(plan.commits, 1);
  EXPECT_EQ(request(second).jobs[0].state, storage::job_state::ready);
  auto done = complete(jobs->at(0));
  EXPECT_EQ(done.completed, 1u);
  EXPECT_EQ(request(first).state, storage::request_state::succeeded);
}

TEST_P(StoreConformance, AClaimWhoseCommitNeverHappenedRunsAgain) {
  auto first = submit_one(spec("h1"));
  submit_one(spec("h2"));
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.break_before_commit = true;
  auto jobs = faulty->claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->at(0).request, first);
  EXPECT_EQ(jobs->at(0).attempt, 1);
  EXPECT_EQ(complete(jobs->at(0)).completed, 1u);
}

TEST_P(StoreConformance, ASubmissionWhoseCommitAnswerWasLostIsCreatedOnce) {
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  // No idempotency key: run again, the submission would find its own request and answer
  // host_busy, and the caller would never learn the id of what it created.
  auto out = faulty->submit({spec("h1")});
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  auto done = faulty->complete({{{jobs[0].id, jobs[0].lease_token}, "ok"}});
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  auto cycle = faulty->complete_and_claim({{{jobs[0].id, jobs[0].lease_token}, ""}}, "node-a", "a",
                                          1, 30000, {});
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  for (const auto& j : jobs) {
    bool retry = j.request == retried;
    plan.commits = 0;
    plan.lose_answer_after_commit = true;
    // Run again, the repeat would find the job no longer running under its lease.
    auto out = faulty->fail({j.id, j.lease_token}, "boom", retry);
    ASSERT_TRUE(out) << message_of(out.error());
    EXPECT_EQ(out->retrying, retry);
    EXPECT_EQ(plan.commits, 1);
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.break_before_commit = true;
  auto out = faulty->fail({jobs[0].id, jobs[0].lease_token}, "boom", false);
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(request(id).state, storage::request_state::failed);
}

TEST_P(StoreConformance, ADeferWhoseCommitAnswerWasLostCountsOnce) {
  auto id = submit_one(spec("h1"));
  auto jobs = claim("t");
  ASSERT_EQ(jobs.size(), 1u);
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  auto err = faulty->defer({jobs[0].id, jobs[0].lease_token}, clock_->now(), "breaker open");
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  auto err = faulty->park({jobs[0].id, jobs[0].lease_token}, "installed:h1", clock_->now() + 60000);
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
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  auto err = faulty->park({jobs[0].id, jobs[0].lease_token}, "installed:h1", clock_->now() + 60000);
  EXPECT_FALSE(err) << message_of(err);
  EXPECT_EQ(request(id).jobs[0].state, storage::job_state::ready);
}

TEST_P(StoreConformance, ANodeIdClaimWhoseCommitAnswerWasLostIsHeld) {
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.lose_answer_after_commit = true;
  // Run again, the claim would find its own row and refuse its own process.
  auto claim = faulty->claim_node("n1", "only", 60000);
  ASSERT_TRUE(claim) << message_of(claim.error());
  EXPECT_TRUE((*claim)->refresh());
  EXPECT_FALSE(db().claim_node("n1", "other", 60000));
}

TEST_P(StoreConformance, ACertificationFailureAtCommitRunsTheWholeTransactionAgain) {
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.fail_certification = true;
  auto out = faulty->submit({spec("h1", {"a", "b"})});
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::created);
  auto view = request(out->at(0).id);
  ASSERT_EQ(view.jobs.size(), 2u);
  EXPECT_EQ(view.jobs[0].state, storage::job_state::ready);
  EXPECT_EQ(view.jobs[1].state, storage::job_state::waiting);
}

TEST_P(StoreConformance, ANodeThatIsNotReadyIsLeftForAnotherConnection) {
  auto id = submit_one(spec("h1"));
  fault_plan plan;
  auto faulty = faulty_store(*store_, clock_, policy(), plan);
  ASSERT_TRUE(faulty);
  plan.not_ready = true;
  auto view = faulty->request(id);
  ASSERT_TRUE(view) << message_of(view.error());
  EXPECT_EQ(view->id, id);
  plan.not_ready = true;
  auto jobs = faulty->claim("node-a", "t", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  EXPECT_EQ(jobs->size(), 1u);
}

}  // namespace ab::testing
