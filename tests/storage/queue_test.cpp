// Conformance: submit, claim order, chains, priorities, idempotency, one active request per host.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

using storage::job_state;
using storage::request_state;
using status = storage::submit_outcome::status;

TEST_P(StoreConformance, SubmitStoresTheWholeChainWithOnlyTheFirstJobReady) {
  auto id = submit_one(spec("h1", {"a", "b", "c"}));
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::queued);
  EXPECT_EQ(r.host, "h1");
  EXPECT_EQ(r.site, "dc1");
  EXPECT_EQ(r.submitter, "tester");
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.jobs[0].type, "a");
  EXPECT_EQ(r.jobs[0].state, job_state::ready);
  EXPECT_EQ(r.jobs[1].state, job_state::waiting);
  EXPECT_EQ(r.jobs[2].state, job_state::waiting);
  EXPECT_EQ(r.jobs[2].position, 2);
}

TEST_P(StoreConformance, BulkSubmitReturnsOneOutcomePerHostInOrder) {
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < 150; ++i) specs.push_back(spec("bulk-" + std::to_string(i), {"a", "b"}));
  auto out = db().submit(specs);
  ASSERT_TRUE(out) << message_of(out.error());
  ASSERT_EQ(out->size(), 150u);
  for (std::size_t i = 0; i < out->size(); ++i) {
    EXPECT_EQ(out->at(i).what, status::created);
    EXPECT_EQ(request(out->at(i).id).host, "bulk-" + std::to_string(i));
  }
  EXPECT_EQ(claim("a", 1000).size(), 150u);
}

TEST_P(StoreConformance, InvalidSpecsAreRefusedAndNothingIsStored) {
  auto empty_chain = spec("h1", {});
  auto unknown_class = spec("h2", {"a"}, "vip");
  auto too_long = spec("h3", std::vector<std::string>(65, "a"));
  auto no_host = spec("", {"a"});
  for (const auto& bad : {empty_chain, unknown_class, too_long, no_host}) {
    auto out = db().submit({spec("fine"), bad});
    ASSERT_FALSE(out);
    EXPECT_TRUE(is(out.error(), errc::invalid_argument)) << message_of(out.error());
  }
  auto page = db().requests({});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->items.empty());
}

TEST_P(StoreConformance, IdempotencyKeyReturnsTheOriginalRequest) {
  auto s = spec("h1");
  s.idempotency_key = "key-1";
  s.fingerprint = "f1";
  auto first = submit_one(s);
  auto again = db().submit({s});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at(0).what, status::existing);
  EXPECT_EQ(again->at(0).id, first);
  s.fingerprint = "f2";
  auto other = db().submit({s});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->at(0).what, status::key_conflict);
  EXPECT_EQ(other->at(0).id, first);
  auto page = db().requests({});
  EXPECT_EQ(page->items.size(), 1u);
}

TEST_P(StoreConformance, IdempotencyKeyStillAnswersAfterTheRequestFinished) {
  auto s = spec("h1");
  s.idempotency_key = "key-1";
  auto first = submit_one(s);
  complete(claim("t").at(0));
  EXPECT_EQ(request(first).state, request_state::succeeded);
  auto again = db().submit({s});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->at(0).what, status::existing);
  EXPECT_EQ(again->at(0).id, first);
}

TEST_P(StoreConformance, SecondActiveRequestForAHostIsRefused) {
  auto first = submit_one(spec("h1"));
  auto second = db().submit({spec("h1")});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at(0).what, status::host_busy);
  EXPECT_EQ(second->at(0).id, first);
  complete(claim("t").at(0));
  auto third = db().submit({spec("h1")});
  ASSERT_TRUE(third);
  EXPECT_EQ(third->at(0).what, status::created);
}

TEST_P(StoreConformance, SameHostTwiceInOneBulkIsCreatedOnce) {
  auto out = db().submit({spec("h1"), spec("h2"), spec("h1")});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->at(0).what, status::created);
  EXPECT_EQ(out->at(1).what, status::created);
  EXPECT_EQ(out->at(2).what, status::host_busy);
  EXPECT_EQ(out->at(2).id, out->at(0).id);
}

TEST_P(StoreConformance, JobsOfAChainRunStrictlyInOrder) {
  auto id = submit_one(spec("h1", {"a", "b", "c"}));
  EXPECT_TRUE(claim("b").empty());
  EXPECT_TRUE(claim("c").empty());
  auto a = claim("a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].position, 0);
  EXPECT_EQ(a[0].attempt, 1);
  EXPECT_EQ(a[0].host, "h1");
  EXPECT_EQ(request(id).state, request_state::running);
  EXPECT_TRUE(claim("b").empty()) << "b must wait until a is done";
  EXPECT_EQ(complete(a[0]).completed, 1u);
  auto b = claim("b");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].position, 1);
  EXPECT_TRUE(claim("c").empty());
  complete(b[0], R"({"facts":1})");
  auto c = claim("c");
  ASSERT_EQ(c.size(), 1u);
  complete(c[0]);
  auto r = request(id);
  EXPECT_EQ(r.state, request_state::succeeded);
  EXPECT_GT(r.finished_at, 0);
  for (const auto& j : r.jobs) EXPECT_EQ(j.state, job_state::done);
  EXPECT_EQ(r.jobs[1].result, R"({"facts":1})");
}

TEST_P(StoreConformance, ClaimRespectsTheBatchSizeAndTheType) {
  for (int i = 0; i < 5; ++i) submit_one(spec("h" + std::to_string(i), {"a"}));
  submit_one(spec("other", {"b"}));
  EXPECT_EQ(claim("a", 3).size(), 3u);
  EXPECT_EQ(claim("a", 3).size(), 2u);
  EXPECT_TRUE(claim("a", 3).empty());
  EXPECT_EQ(claim("b", 3).size(), 1u);
}

TEST_P(StoreConformance, PriorityClassesOrderTheQueue) {
  auto organic = submit_one(spec("h-organic", {"t"}, "organic"));
  auto user = submit_one(spec("h-user", {"t"}, "user"));
  auto maas = submit_one(spec("h-maas", {"t"}, "maas"));
  auto jobs = claim("t", 3);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].request, maas);
  EXPECT_EQ(jobs[1].request, user);
  EXPECT_EQ(jobs[2].request, organic);
}

TEST_P(StoreConformance, AgeingLetsLongWaitingLowPriorityWorkGoFirst) {
  auto organic = submit_one(spec("h-organic", {"t"}, "organic"));
  // maas has a 30 minute head start; an organic job that waited longer than that goes first.
  clock_->advance(31 * 60 * 1000);
  auto maas = submit_one(spec("h-maas", {"t"}, "maas"));
  auto jobs = claim("t", 2);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].request, organic);
  EXPECT_EQ(jobs[1].request, maas);
}

TEST_P(StoreConformance, CompletedChainsFreeTheirHostAndListAsSucceeded) {
  auto id = submit_one(spec("h1", {"a"}));
  auto unknown = complete(storage::claimed_job{});
  EXPECT_EQ(unknown.completed, 0u);
  EXPECT_EQ(unknown.lost.size(), 1u);
  complete(claim("a")[0]);
  storage::request_filter f;
  f.state = request_state::succeeded;
  auto page = db().requests(f);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, id);
}

TEST_P(StoreConformance, ListingFiltersAndPaginatesNewestFirst) {
  for (int i = 0; i < 7; ++i) {
    auto s = spec("list-" + std::to_string(i));
    s.action = i % 2 ? "reimage" : "power_on";
    s.site = i < 4 ? "dc1" : "dc2";
    submit_one(s);
    clock_->advance(1000);
  }
  storage::request_filter f;
  f.limit = 3;
  std::vector<storage::request_id> seen;
  for (;;) {
    auto page = db().requests(f);
    ASSERT_TRUE(page);
    for (const auto& r : page->items) seen.push_back(r.id);
    if (!page->next_cursor) break;
    f.before = page->next_cursor;
  }
  ASSERT_EQ(seen.size(), 7u);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i - 1], seen[i]);
  storage::request_filter by_action;
  by_action.action = "reimage";
  EXPECT_EQ(db().requests(by_action)->items.size(), 3u);
  storage::request_filter by_site;
  by_site.site = "dc2";
  EXPECT_EQ(db().requests(by_site)->items.size(), 3u);
  storage::request_filter by_host;
  by_host.host = "list-5";
  EXPECT_EQ(db().requests(by_host)->items.size(), 1u);
  storage::request_filter since;
  since.since = clock_->now() - 2500;
  EXPECT_EQ(db().requests(since)->items.size(), 2u);
}

TEST_P(StoreConformance, QueueDepthCountsUnfinishedJobsByTypeClassAndState) {
  submit_one(spec("h1", {"a", "b"}, "maas"));
  submit_one(spec("h2", {"a"}, "organic"));
  submit_one(spec("h3", {"a"}, "organic"));
  claim("a", 1);  // takes the maas job
  auto depth = db().queue_depth();
  ASSERT_TRUE(depth);
  auto count = [&](const std::string& type, const std::string& cls, job_state st) {
    for (const auto& row : *depth)
      if (row.type == type && row.priority_class == cls && row.state == st) return row.count;
    return std::int64_t{0};
  };
  EXPECT_EQ(count("a", "maas", job_state::running), 1);
  EXPECT_EQ(count("b", "maas", job_state::waiting), 1);
  EXPECT_EQ(count("a", "organic", job_state::ready), 2);
}

TEST_P(StoreConformance, OverviewGroupsReadyJobsAndCountsActiveAndStuckRequests) {
  auto t0 = clock_->now();
  submit_one(spec("h1", {"a", "b"}, "maas"));
  clock_->advance(1000);
  submit_one(spec("h2", {"a"}, "organic"));
  submit_one(spec("h3", {"a"}, "organic"));
  auto other_site = spec("x1", {"a"});
  other_site.site = "dc2";
  submit_one(other_site);
  ASSERT_EQ(claim("a", 1).size(), 1u);  // the maas job: h1 is running now
  clock_->advance(5000);
  auto o = db().overview("dc1", clock_->now() - 60000, {}, 0);
  ASSERT_TRUE(o) << message_of(o.error());
  ASSERT_EQ(o->ready.size(), 1u);
  EXPECT_EQ(o->ready[0].type, "a");
  EXPECT_EQ(o->ready[0].priority_class, "organic");
  EXPECT_EQ(o->ready[0].action, "test");
  EXPECT_EQ(o->ready[0].count, 2);
  EXPECT_EQ(o->ready[0].oldest_since, t0 + 1000);
  auto active = [](const storage::queue_overview& v) {
    std::int64_t count = 0, stuck = 0;
    for (const auto& a : v.active) {
      EXPECT_EQ(a.action, "test");
      count += a.count;
      stuck += a.stuck;
    }
    return std::pair{count, stuck};
  };
  EXPECT_EQ(active(*o), (std::pair<std::int64_t, std::int64_t>{3, 0}));
  // With no progress since the claim, the running request counts as stuck; queued ones never.
  o = db().overview("dc1", clock_->now() - 1000, {}, 0);
  ASSERT_TRUE(o);
  EXPECT_EQ(active(*o), (std::pair<std::int64_t, std::int64_t>{3, 1}));
  for (const auto& a : o->active)
    if (a.stuck > 0) {
      EXPECT_EQ(a.state, storage::request_state::running);
      EXPECT_EQ(a.priority_class, "maas");
    }
  auto far = db().overview("dc9", clock_->now(), {"a"}, 0);
  ASSERT_TRUE(far);
  EXPECT_TRUE(far->ready.empty());
  EXPECT_TRUE(far->active.empty());
}

TEST_P(StoreConformance, CompletionNamesTheRequestsItFinishedWithTheirActionAndClass) {
  submit_one(spec("h1", {"a", "b"}, "organic"));
  submit_one(spec("h2", {"a"}, "maas"));
  auto jobs = claim("a", 10);
  ASSERT_EQ(jobs.size(), 2u);
  std::vector<storage::completion> done;
  for (const auto& j : jobs) {
    EXPECT_EQ(j.priority_class, j.host == "h1" ? "organic" : "maas");
    done.push_back({{j.id, j.lease_token}, "", j.action, j.priority_class});
  }
  auto r = db().complete(done);
  ASSERT_TRUE(r) << message_of(r.error());
  // Only h2's request ended: h1's chain goes on with b.
  ASSERT_EQ(r->succeeded.size(), 1u);
  EXPECT_EQ(r->succeeded[0].priority_class, "maas");
  EXPECT_EQ(r->succeeded[0].action, "test");
  auto b = claim("b");
  ASSERT_EQ(b.size(), 1u);
  r = db().complete({{{b[0].id, b[0].lease_token}, "", b[0].action, b[0].priority_class}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->succeeded.size(), 1u);
  EXPECT_EQ(r->succeeded[0].priority_class, "organic");
}

TEST_P(StoreConformance, UnknownRequestIsNotFound) {
  auto r = db().request(424242);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is(r.error(), errc::not_found));
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, CompleteAndClaimHandsBackAndTakesInOneStep) {
  auto first = submit_one(spec("h1", {"t", "t"}));
  auto second = submit_one(spec("h2", {"t"}));
  auto jobs = claim("t", 1);
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].request, first);
  auto cycle =
      db().complete_and_claim({{{jobs[0].id, jobs[0].lease_token}, ""}}, "node-a", "t", 5, 30000);
  ASSERT_TRUE(cycle) << message_of(cycle.error());
  EXPECT_EQ(cycle->completed.completed, 1u);
  // The next job of the first chain was readied by the completion in the same transaction.
  ASSERT_EQ(cycle->claimed.size(), 2u);
  EXPECT_EQ(cycle->claimed[0].request, first);
  EXPECT_EQ(cycle->claimed[0].position, 1);
  EXPECT_EQ(cycle->claimed[1].request, second);
  auto stale =
      db().complete_and_claim({{{jobs[0].id, jobs[0].lease_token}, ""}}, "node-a", "t", 5, 30000);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->completed.lost.size(), 1u);
  EXPECT_TRUE(stale->claimed.empty());
}

TEST_P(StoreConformance, OneCompletionOfJobsFromSeveralClaimsFencesEachByItsOwnToken) {
  // 37 chains of two jobs, claimed in three claims (three tokens); one call hands back all but
  // one job, and one of them under another claim's token: any id count, one statement per run.
  std::vector<storage::request_spec> specs;
  for (int i = 0; i < 37; ++i) specs.push_back(spec("h" + std::to_string(i), {"t", "t"}));
  ASSERT_TRUE(db().submit(specs));
  std::vector<storage::claimed_job> jobs;
  for (int n : {5, 3, 29}) {
    auto got = claim("t", n);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    jobs.insert(jobs.end(), got.begin(), got.end());
  }
  std::vector<storage::completion> done;
  for (std::size_t i = 0; i + 1 < jobs.size(); ++i)
    done.push_back({{jobs[i].id, jobs[i].lease_token}, ""});
  // A token of the last claim for a job of the first: not that job's lease.
  done[1].job.token = jobs.back().lease_token;
  auto out = db().complete(done);
  ASSERT_TRUE(out) << message_of(out.error());
  EXPECT_EQ(out->completed, jobs.size() - 2);
  ASSERT_EQ(out->lost.size(), 1u);
  EXPECT_EQ(out->lost[0], jobs[1].id);
  EXPECT_EQ(request(jobs[1].request).jobs[0].state, job_state::running);
  EXPECT_EQ(request(jobs.back().request).jobs[0].state, job_state::running);
  for (std::size_t i = 0; i + 1 < jobs.size(); ++i) {
    if (i == 1) continue;
    auto r = request(jobs[i].request);
    EXPECT_EQ(r.jobs[0].state, job_state::done) << "job " << jobs[i].id;
    EXPECT_EQ(r.jobs[1].state, job_state::ready) << "the chain's next job of " << jobs[i].id;
  }
  // The second jobs, handed back in one call, finish their requests.
  auto next = claim("t", 100);
  ASSERT_EQ(next.size(), jobs.size() - 2);
  std::vector<storage::completion> last;
  for (const auto& j : next) last.push_back({{j.id, j.lease_token}, ""});
  auto finished = db().complete(last);
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->completed, next.size());
  for (const auto& j : next) EXPECT_EQ(request(j.request).state, request_state::succeeded);
}

}  // namespace ab::testing

namespace ab::testing {

TEST_P(StoreConformance, AClaimTakesOnlyTheActionsItsClusterServes) {
  auto reimage = spec("h1", {"power_off"});
  reimage.action = "reimage";
  auto discover = spec("h2", {"power_off"});
  discover.action = "discover";
  auto wipe = spec("h3", {"power_off"});
  wipe.action = "wipe";
  auto r = submit_one(reimage);
  auto d = submit_one(discover);
  auto w = submit_one(wipe);
  auto build = db().claim("n1", "power_off", 10, 30000, {{"reimage"}, {}, "", ""});
  ASSERT_TRUE(build);
  ASSERT_EQ(build->size(), 1u);
  EXPECT_EQ(build->at(0).request, r);
  auto others = db().claim("n2", "power_off", 10, 30000, {{}, {"reimage", "discover"}, "", ""});
  ASSERT_TRUE(others);
  ASSERT_EQ(others->size(), 1u);
  EXPECT_EQ(others->at(0).request, w);
  auto rest = db().claim("n3", "power_off", 10, 30000, {{"discover", "build"}, {}, "", ""});
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->at(0).request, d);
}

}  // namespace ab::testing
