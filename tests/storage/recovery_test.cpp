// Conformance: leases, fencing, retries with backoff, parking, cancellation, recovery.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

using storage::job_state;
using storage::request_state;

TEST_P(StoreConformance, ALostLeaseFencesTheOldHolderOut) {
  submit_one(spec("h1", {"a", "b"}));
  auto first = claim("a", 1, "node-a", 1000);
  ASSERT_EQ(first.size(), 1u);
  recover_after_death(1001);
  auto second = claim("a", 1, "node-b");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[0].id);
  EXPECT_EQ(second[0].attempt, 2);
  EXPECT_NE(second[0].lease_token, first[0].lease_token);
  auto stale = complete(first[0]);
  EXPECT_EQ(stale.completed, 0u);
  ASSERT_EQ(stale.lost.size(), 1u);
  EXPECT_TRUE(claim("b").empty()) << "a stale completion must not advance the chain";
  auto fresh = complete(second[0]);
  EXPECT_EQ(fresh.completed, 1u);
  EXPECT_EQ(claim("b").size(), 1u);
  auto f = db().fail({first[0].id, first[0].lease_token}, "late", true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(is(f.error(), errc::lease_lost));
}

TEST_P(StoreConformance, RenewedLeasesSurviveRecovery) {
  submit_one(spec("h1"));
  submit_one(spec("h2"));
  auto a = claim("t", 1, "node-a", 1000);
  claim("t", 1, "node-b", 1000);
  ASSERT_EQ(a.size(), 1u);
  clock_->advance(800);
  auto renewed = db().renew({{a[0].id, a[0].lease_token}}, 1000);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(*renewed, 1u);
  clock_->advance(800);
  auto rec = db().recover(100);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->retried, 1u) << "only node-b's job expired";
}

TEST_P(StoreConformance, ARenewalExtendsOnlyTheAttemptItNames) {
  submit_one(spec("h1"));
  auto first = claim("t", 1, "node-a", 1000);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(db().fail({first[0].id, first[0].lease_token}, "flaky", true));
  clock_->advance(policy().backoff_max_ms);
  // The same owner claims the job again: a renewal of the first attempt's lease (a worker that
  // no longer holds it) must not keep the second one alive.
  auto second = claim("t", 1, "node-a", 1000);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].id, first[0].id);
  auto stale = db().renew({{first[0].id, first[0].lease_token}}, 60000);
  ASSERT_TRUE(stale) << message_of(stale.error());
  EXPECT_EQ(*stale, 0u);
  clock_->advance(1500);
  auto rec = db().recover(10);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->retried, 1u) << "the second attempt's lease ran out";
  auto gone = db().renew({{second[0].id, second[0].lease_token}}, 60000);
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, 0u) << "a recovered job's lease is not renewed";
}

TEST_P(StoreConformance, RecoveryFailsARequestWhenAttemptsRunOut) {
  auto s = spec("h1", {"a", "b"});
  s.chain[0].max_attempts = 1;
  auto id = submit_one(s);
  claim("a", 1, "node-dead", 1000);
  clock_->advance(5000);
  auto rec = db().recover(100);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->failed, 1u);
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::failed);
  EXPECT_NE(r.error.find("lease expired"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("node-dead"), std::string::npos) << r.error;
  EXPECT_EQ(r.jobs[0].state, job_state::failed);
  EXPECT_EQ(r.jobs[1].state, job_state::cancelled);
  EXPECT_EQ(db().submit({spec("h1")})->at(0).what, storage::submit_outcome::status::created);
}

TEST_P(StoreConformance, FailureRetriesWithGrowingBackoffThenFailsTheRequest) {
  auto id = submit_one(spec("h1", {"a", "b"}));
  time_ms previous_delay = 0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto jobs = claim("a");
    ASSERT_EQ(jobs.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(jobs[0].attempt, attempt);
    auto f = db().fail({jobs[0].id, jobs[0].lease_token}, "bmc timeout", true);
    ASSERT_TRUE(f) << message_of(f.error());
    if (attempt < 3) {
      ASSERT_TRUE(f->retrying);
      auto delay = f->not_before - clock_->now();
      auto full = std::min<time_ms>(1000 << (attempt - 1), 10000);
      EXPECT_GE(delay, full / 2);
      EXPECT_LE(delay, full);
      EXPECT_GE(delay, previous_delay / 2);
      previous_delay = delay;
      EXPECT_TRUE(claim("a").empty()) << "a job in backoff is not claimable";
      clock_->advance(delay);
    } else {
      EXPECT_FALSE(f->retrying);
    }
  }
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::failed);
  EXPECT_NE(r.error.find("bmc timeout"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("3 attempt"), std::string::npos) << r.error;
  EXPECT_EQ(r.jobs[1].state, job_state::cancelled);
  EXPECT_TRUE(claim("b").empty());
}

TEST_P(StoreConformance, NonRetryableFailureFailsAtOnce) {
  auto id = submit_one(spec("h1", {"a"}));
  auto j = claim("a").at(0);
  auto f = db().fail({j.id, j.lease_token}, "host refuses PXE", false);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->retrying);
  EXPECT_EQ(request(id).state, request_state::failed);
  EXPECT_NE(request(id).error.find("host refuses PXE"), std::string::npos);
}

TEST_P(StoreConformance, AParkedJobHoldsNoWorkerAndWakesOnItsEvent) {
  auto id = submit_one(spec("h1", {"install", "verify"}));
  auto j = claim("install").at(0);
  ASSERT_FALSE(db().park({j.id, j.lease_token}, "install-done:h1", clock_->now() + 60000));
  EXPECT_EQ(request(id).jobs[0].state, job_state::parked);
  EXPECT_TRUE(claim("install").empty());
  auto woke = hooks().wake("install-done:h1", R"({"ok":true})");
  ASSERT_TRUE(woke);
  EXPECT_TRUE(*woke);
  auto again = claim("install");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, R"({"ok":true})");
  complete(again[0]);
  EXPECT_EQ(claim("verify").size(), 1u);
  auto duplicate = hooks().wake("install-done:h1", "{}");
  ASSERT_TRUE(duplicate);
  EXPECT_FALSE(*duplicate) << "nothing waits any more";
}

TEST_P(StoreConformance, AWokenJobWhoseHolderDiedIsRetriedWithItsEvent) {
  // An install has two attempts: one parks, and the event would be handled by the last one. A
  // node killed while it holds the woken job (before its completion commits) then failed the
  // request; the wake gives the parking attempt back, so the event gets a retry.
  auto s = spec("h1", {"install", "verify"});
  s.chain[0].max_attempts = 2;
  auto id = submit_one(s);
  auto j = claim("install", 1, "node-a", 1000).at(0);
  ASSERT_FALSE(db().park({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000));
  ASSERT_TRUE(hooks().wake("cb:h1", "done"));
  auto woken = claim("install", 1, "node-a", 1000);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].attempt, 1) << "the attempt that parked goes on";
  recover_after_death(1001);  // node-a died: its lease runs out
  auto again = claim("install", 1, "node-b");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, "done") << "the event is kept for the retry";
  EXPECT_EQ(complete(again[0]).completed, 1u);
  EXPECT_EQ(claim("verify").size(), 1u);
  EXPECT_EQ(request(id).state, request_state::running);
}

TEST_P(StoreConformance, AnEarlyEventAlsoGivesTheParkingAttemptBack) {
  auto s = spec("h1", {"install"});
  s.chain[0].max_attempts = 2;
  submit_one(s);
  auto j = claim("install").at(0);
  ASSERT_TRUE(hooks().wake("cb:h1", "early"));
  ASSERT_FALSE(db().park({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000));
  auto again = claim("install");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
}

TEST_P(StoreConformance, AnEarlyEventIsTakenByItsHolderWithoutAHandBack) {
  auto s = spec("h1", {"install", "verify"});
  s.chain[0].max_attempts = 2;
  auto id = submit_one(s);
  auto j = claim("install", 1, "node-a", 1000).at(0);
  ASSERT_TRUE(hooks().wake("cb:h1", "early"));
  auto taken = db().park_or_take({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000);
  ASSERT_TRUE(taken);
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ(**taken, "early");
  // Still held, by the same lease: nobody else can claim it, and its holder completes it.
  EXPECT_EQ(request(id).jobs[0].state, job_state::running);
  EXPECT_TRUE(claim("install", 1, "node-b").empty());
  auto duplicate = hooks().wake("cb:h1", "late");
  ASSERT_TRUE(duplicate);
  EXPECT_FALSE(*duplicate) << "the event was taken: nobody waits for it";
  EXPECT_EQ(complete(j).completed, 1u);
  EXPECT_EQ(claim("verify").size(), 1u);
}

TEST_P(StoreConformance, AnEarlyEventTakenByAHolderThatDiedGoesToTheRetry) {
  auto s = spec("h1", {"install", "verify"});
  s.chain[0].max_attempts = 2;
  submit_one(s);
  auto j = claim("install", 1, "node-a", 1000).at(0);
  ASSERT_TRUE(hooks().wake("cb:h1", "early"));
  auto taken = db().park_or_take({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000);
  ASSERT_TRUE(taken && taken->has_value());
  recover_after_death(1001);  // node-a died holding it: its lease runs out
  auto again = claim("install", 1, "node-b");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, "early") << "the event is kept on the job for the retry";
}

TEST_P(StoreConformance, ParkOrTakeParksWhenNoEventCameYetAndRefusesALostLease) {
  auto id = submit_one(spec("h1", {"install", "verify"}));
  auto j = claim("install").at(0);
  auto lost = db().park_or_take({j.id, j.lease_token + 1}, "cb:h1", clock_->now() + 60000);
  ASSERT_FALSE(lost);
  EXPECT_TRUE(is(lost.error(), errc::lease_lost));
  auto parked = db().park_or_take({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000);
  ASSERT_TRUE(parked);
  EXPECT_FALSE(parked->has_value());
  EXPECT_EQ(request(id).jobs[0].state, job_state::parked);
  ASSERT_TRUE(hooks().wake("cb:h1", "done"));
  auto again = claim("install");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, "done");
}

TEST_P(StoreConformance, ACallbackTokenWakesItsJobOnceAndOnlyWithTheRightDigest) {
  auto id = submit_one(spec("h1", {"install", "verify"}));
  auto j = claim("install").at(0);
  storage::callback_grant g{id, "digest-1", "install:" + std::to_string(id), clock_->now() + 60000};
  ASSERT_FALSE(db().issue_callback(g));
  ASSERT_FALSE(db().park({j.id, j.lease_token}, g.event_key, clock_->now() + 60000));
  EXPECT_TRUE(is(db().redeem_callback(id, "wrong", "{}"), errc::unauthenticated));
  EXPECT_TRUE(is(db().redeem_callback(id + 1, "digest-1", "{}"), errc::unauthenticated));
  EXPECT_EQ(request(id).jobs[0].state, job_state::parked) << "a refused callback wakes nothing";
  ASSERT_FALSE(db().redeem_callback(id, "digest-1", R"({"status":"succeeded"})"));
  auto again = claim("install");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, R"({"status":"succeeded"})");
  EXPECT_TRUE(is(db().redeem_callback(id, "digest-1", "{}"), errc::unauthenticated))
      << "the token is good for one use";
}

TEST_P(StoreConformance, AReissuedCallbackTokenReplacesTheOldOneAndTokensExpire) {
  auto id = submit_one(spec("h1", {"install"}));
  auto key = "install:" + std::to_string(id);
  ASSERT_FALSE(db().issue_callback({id, "old", key, clock_->now() + 1000}));
  ASSERT_FALSE(db().issue_callback({id, "new", key, clock_->now() + 1000}));
  EXPECT_TRUE(is(db().redeem_callback(id, "old", "{}"), errc::unauthenticated));
  clock_->advance(1000);
  EXPECT_TRUE(is(db().redeem_callback(id, "new", "{}"), errc::unauthenticated)) << "expired";
  EXPECT_TRUE(is(db().issue_callback({id + 99, "x", key, clock_->now() + 1000}), errc::not_found));
  EXPECT_TRUE(is(db().issue_callback({id, "", key, 1}), errc::invalid_argument));
}

TEST_P(StoreConformance, AnEventThatArrivesBeforeTheJobParksIsKept) {
  submit_one(spec("h1", {"install"}));
  auto j = claim("install").at(0);
  auto woke = hooks().wake("cb:h1", "early");
  ASSERT_TRUE(woke);
  EXPECT_FALSE(*woke);
  ASSERT_FALSE(db().park({j.id, j.lease_token}, "cb:h1", clock_->now() + 60000));
  auto again = claim("install");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event, "early");
}

TEST_P(StoreConformance, ParkingNeedsTheLease) {
  submit_one(spec("h1", {"install"}));
  auto j = claim("install").at(0);
  auto err = db().park({j.id, j.lease_token + 1}, "k", clock_->now() + 1000);
  EXPECT_TRUE(is(err, errc::lease_lost));
}

TEST_P(StoreConformance, AParkedJobPastItsDeadlineIsRetriedThenFailed) {
  auto s = spec("h1", {"install"});
  s.chain[0].max_attempts = 2;
  auto id = submit_one(s);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto j = claim("install");
    ASSERT_EQ(j.size(), 1u);
    ASSERT_FALSE(db().park({j[0].id, j[0].lease_token}, "cb", clock_->now() + 5000));
    clock_->advance(5001);
    auto rec = db().recover(100);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->retried + rec->failed, 1u);
    clock_->advance(policy().backoff_max_ms);
  }
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::failed);
  EXPECT_NE(r.error.find("waiting for an event"), std::string::npos) << r.error;
}

TEST_P(StoreConformance, ARunningJobPastItsTimeoutIsRecoveredEvenWithAFreshLease) {
  auto s = spec("h1", {"slow"});
  s.chain[0].timeout_ms = 2000;
  auto id = submit_one(s);
  auto j = claim("slow", 1, "node-a", 1000);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0].deadline, clock_->now() + 2000);
  clock_->advance(900);
  db().renew({{j[0].id, j[0].lease_token}}, 1000);
  clock_->advance(900);
  db().renew({{j[0].id, j[0].lease_token}}, 1000);
  clock_->advance(300);
  auto rec = db().recover(100);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->retried, 1u);
  EXPECT_NE(request(id).jobs[0].error.find("deadline passed"), std::string::npos);
}

TEST_P(StoreConformance, CancelledRequestsNeverStartTheirRemainingJobs) {
  auto id = submit_one(spec("h1", {"a", "b"}));
  auto st = db().cancel(id, "operator changed their mind");
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, request_state::cancelled);
  EXPECT_TRUE(claim("a").empty());
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::cancelled);
  EXPECT_NE(r.error.find("operator changed their mind"), std::string::npos);
  for (const auto& j : r.jobs) EXPECT_EQ(j.state, job_state::cancelled);
  EXPECT_EQ(db().submit({spec("h1")})->at(0).what, storage::submit_outcome::status::created);
}

TEST_P(StoreConformance, CancellingARunningRequestRevokesItsWorkersLease) {
  auto id = submit_one(spec("h1", {"a", "b"}));
  auto j = claim("a").at(0);
  ASSERT_TRUE(db().cancel(id, "stop"));
  auto done = complete(j);
  EXPECT_EQ(done.completed, 0u);
  EXPECT_EQ(done.lost.size(), 1u);
  EXPECT_TRUE(claim("b").empty());
  EXPECT_EQ(request(id).state, request_state::cancelled);
}

TEST_P(StoreConformance, CancellingAFinishedOrUnknownRequestIsRefused) {
  auto id = submit_one(spec("h1"));
  complete(claim("t").at(0));
  auto again = db().cancel(id, "late");
  ASSERT_FALSE(again);
  EXPECT_TRUE(is(again.error(), errc::conflict));
  auto unknown = db().cancel(999999, "x");
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is(unknown.error(), errc::not_found));
}

TEST_P(StoreConformance, ReleasedJobsAreClaimableAtOnceWithoutLosingAnAttempt) {
  submit_one(spec("h1"));
  auto j = claim("t", 1, "draining-node").at(0);
  auto n = db().release({{j.id, j.lease_token}});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  auto again = claim("t", 1, "other-node");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, ABatchCompletionAdvancesTheHeldJobsAndListsTheLostOnes) {
  auto a = submit_one(spec("h1", {"t", "u"}));
  auto b = submit_one(spec("h2", {"t", "u"}));
  auto c = submit_one(spec("h3", {"t", "u"}));
  auto jobs = claim("t", 3);
  ASSERT_EQ(jobs.size(), 3u);
  ASSERT_TRUE(db().cancel(b, "not this one"));
  std::vector<storage::completion> done;
  for (const auto& j : jobs) done.push_back({{j.id, j.lease_token}, "{}"});
  auto res = db().complete(done);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->completed, 2u);
  ASSERT_EQ(res->lost.size(), 1u);
  EXPECT_EQ(res->lost[0] / storage::max_chain_length, b);
  auto next = claim("u", 5);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(request(a).jobs[1].state, storage::job_state::running);
  EXPECT_EQ(request(c).jobs[1].state, storage::job_state::running);
  EXPECT_EQ(request(b).jobs[1].state, storage::job_state::cancelled);
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, ReleasingAnOwnersJobsMakesThemClaimableAtOnce) {
  submit_one(spec("h1"));
  submit_one(spec("h2"));
  ASSERT_EQ(claim("t", 1, "slow-worker").size(), 1u);
  ASSERT_EQ(claim("t", 1, "other-worker").size(), 1u);
  auto n = db().release_held("slow-worker");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  auto again = claim("t", 5, "new-worker");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
}

TEST_P(StoreConformance, ExpiringAnOwnersLeasesHandsItsJobsToRecovery) {
  auto id = submit_one(spec("h1"));
  auto j = claim("t", 1, "crashed-worker", 60000);
  ASSERT_EQ(j.size(), 1u);
  auto n = db().expire_held("crashed-worker");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  // A renewal under another token (another attempt's) does not bring it back.
  db().renew({{j[0].id, j[0].lease_token + 1}}, 60000);
  auto rec = db().recover(10);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->retried, 1u);
  EXPECT_NE(request(id).jobs[0].error.find("crashed-worker"), std::string::npos);
}
}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, ASecondClaimOfANodeIdIsRefusedWhileTheFirstLives) {
  auto first = db().claim_node("n1", "first", 60000);
  ASSERT_TRUE(first) << message_of(first.error());
  auto second = store_->reopen();
  ASSERT_TRUE(second) << message_of(second.error());
  auto taken = (*second)->claim_node("n1", "second", 60000);
  ASSERT_FALSE(taken);
  EXPECT_TRUE(is(taken.error(), errc::conflict)) << message_of(taken.error());
  EXPECT_NE(message_of(taken.error()).find("incarnation first"), std::string::npos)
      << message_of(taken.error());
  EXPECT_TRUE((*second)->claim_node("n2", "second", 60000)) << "another id is free";
  EXPECT_TRUE((*first)->refresh());
  first->reset();
  EXPECT_TRUE((*second)->claim_node("n1", "second", 60000)) << "a released id can be claimed again";
}

TEST_P(StoreConformance, ANodeIdIsClaimedPerSiteDatabaseNotPerServer) {
  // Two site databases on one database server.
  scratch_store other{GetParam(), clock_, policy()};
  ASSERT_FALSE(HasFailure());
  auto here = db().claim_node("n1", "here", 60000);
  ASSERT_TRUE(here) << message_of(here.error());
  auto there = other->claim_node("n1", "there", 60000);
  EXPECT_TRUE(there) << "the same id in another database is another node";
}

TEST_P(StoreConformance, AnExpiredNodeIdClaimIsTakenOverAndItsHolderLearnsSo) {
  // The holder lives (it is this process) but stopped renewing: past its expiry, in the
  // database's time, another process takes the id, and the holder's next refresh says so.
  auto stale = db().claim_node("n1", "stale", 1);
  ASSERT_TRUE(stale) << message_of(stale.error());
  clock_->advance(50);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto second = store_->reopen();
  ASSERT_TRUE(second) << message_of(second.error());
  auto taken = (*second)->claim_node("n1", "fresh", 60000);
  ASSERT_TRUE(taken) << message_of(taken.error());
  EXPECT_FALSE((*stale)->refresh()) << "the old holder must stop";
  stale->reset();
  EXPECT_TRUE((*taken)->refresh()) << "freeing a lost claim leaves the new holder's alone";
  auto third = store_->reopen();
  ASSERT_TRUE(third) << message_of(third.error());
  EXPECT_FALSE((*third)->claim_node("n1", "third", 60000));
}

TEST_P(StoreConformance, ANodeIdHeldByAProcessOfThisHostThatDiedIsFreeAtOnce) {
  // A killed node restarted under its id must not wait for its claim to expire: the row names
  // the process, which this host can see is gone.
  auto pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto mine = store_->reopen();
    if (!mine) ::_exit(1);
    auto held = (*mine)->claim_node("n1", "killed", 600000);
    // Ends without freeing the claim (no destructor runs), as a killed process does.
    ::_exit(held ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child claimed n1";
  auto taken = db().claim_node("n1", "restarted", 60000);
  EXPECT_TRUE(taken) << message_of(taken.error());
}

TEST_P(StoreConformance, ARestartedNodeExpiresOnlyItsPredecessorsLeases) {
  for (const auto* h : {"h1", "h2", "h3", "h4", "h5"}) submit_one(spec(h));
  auto old_owner = storage::owner_prefix("n1", "dead") + "t#0.0";
  auto new_owner = storage::owner_prefix("n1", "live") + "t#0.0";
  claim("t", 1, old_owner, 600000);
  claim("t", 1, "n1/t#1.0", 600000);  // a predecessor from before incarnations
  auto live = claim("t", 1, new_owner, 600000);
  ASSERT_EQ(live.size(), 1u);
  claim("t", 1, storage::owner_prefix("n10", "other") + "t#0.0", 600000);
  claim("t", 1, storage::owner_prefix("n2", "other") + "t#0.0", 600000);
  auto expired = db().expire_predecessors("n1", "live");
  ASSERT_TRUE(expired) << message_of(expired.error());
  EXPECT_EQ(*expired, 2u);
  auto rec = db().recover(100);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->retried, 2u) << "the dead incarnations' jobs are retried long before their lease";
  EXPECT_EQ(*db().renew({{live[0].id, live[0].lease_token}}, 600000), 1u)
      << "the live incarnation keeps its lease";
}

TEST_P(StoreConformance, TheDatabaseTellsItsTime) {
  auto t = db().database_time();
  ASSERT_TRUE(t) << message_of(t.error());
  if (db().backend() == "sqlite")
    EXPECT_EQ(*t, clock_->now()) << "an embedded database's clock is the node's";
  else
    EXPECT_NEAR(static_cast<double>(*t), static_cast<double>(system_clock{}.now()), 60'000.0);
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, ADeferredJobWaitsWithoutSpendingAnAttempt) {
  auto id = submit_one(spec("h1"));
  auto first = claim("t");
  ASSERT_EQ(first.size(), 1u);
  auto since = clock_->now();
  ASSERT_FALSE(db().defer({first[0].id, first[0].lease_token}, since + 30'000, "circuit open"));
  EXPECT_TRUE(claim("t").empty()) << "not before its time";
  EXPECT_TRUE(is(db().defer({first[0].id, first[0].lease_token}, since, "again"), errc::lease_lost))
      << "the lease ended with the deferral";
  clock_->advance(30'000);
  auto second = claim("t");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt, 1) << "a deferral spends no attempt";
  EXPECT_EQ(second[0].deferrals, 1);
  EXPECT_EQ(second[0].deferred_since, since);
  ASSERT_FALSE(db().defer({second[0].id, second[0].lease_token}, clock_->now(), "still open"));
  auto third = claim("t");
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].deferrals, 2);
  EXPECT_EQ(third[0].deferred_since, since) << "the first deferral's time stays";
  EXPECT_EQ(complete(third[0]).completed, 1u);
  EXPECT_EQ(request(id).state, request_state::succeeded);
}

}  // namespace ab::testing
