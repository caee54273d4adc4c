// Conformance: what the turnaround estimates read — a queued request's place in the claim
// order (priority classes and ageing), active requests, recent finishes with the estimate at
// submission and their last job's owner, ready and done jobs by type.

#include <algorithm>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

storage::request_spec on_site(storage::request_spec s, const std::string& site) {
  s.site = site;
  return s;
}

}  // namespace

TEST_P(StoreConformance, QueuedAheadFollowsTheClaimOrderOfClassesAndAges) {
  // Credits: maas 30 min, user 10 min, organic 0 (the default policy).
  auto old_organic = submit_one(spec("h1", {"t"}, "organic"));
  clock_->advance(5 * 60 * 1000);
  auto user = submit_one(spec("h2", {"t"}, "user"));
  auto organic = submit_one(spec("h3", {"t"}, "organic"));
  clock_->advance(1000);
  auto maas = submit_one(spec("h4", {"t"}, "maas"));
  auto other_site = submit_one(on_site(spec("h5", {"t"}, "maas"), "dc2"));
  ASSERT_TRUE(old_organic && user && organic && maas && other_site);
  auto ahead_of = [&](storage::request_id id) {
    auto r = request(id);
    auto credit = policy().class_credit_ms.at(r.priority_class);
    auto n = db().queued_ahead(r.site, r.action, r.created_at - credit, id);
    EXPECT_TRUE(n) << message_of(n.error());
    return n ? *n : -1;
  };
  // The claim takes maas, then user, then the old organic, then the newer organic.
  EXPECT_EQ(ahead_of(maas), 0);
  EXPECT_EQ(ahead_of(user), 1);
  EXPECT_EQ(ahead_of(old_organic), 2);
  EXPECT_EQ(ahead_of(organic), 3);
  EXPECT_EQ(ahead_of(other_site), 0);
  auto claimed = db().claim("node-a", "t", 2, 30000, storage::action_filter{{}, {}, "dc1", ""});
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ(claimed->at(0).request, maas);
  EXPECT_EQ(claimed->at(1).request, user);
  // What started is ahead of nobody any more.
  EXPECT_EQ(ahead_of(old_organic), 0);
  EXPECT_EQ(ahead_of(organic), 1);
  // A request submitted now as organic would come last; as maas, first.
  EXPECT_EQ(*db().queued_ahead("dc1", "test", clock_->now(), INT64_MAX), 2);
  EXPECT_EQ(*db().queued_ahead("dc1", "test", clock_->now() - 30 * 60 * 1000, INT64_MAX), 0);
}

TEST_P(StoreConformance, ActiveRequestsAreCountedByActionClassAndState) {
  submit_one(spec("h1", {"t"}, "user"));
  submit_one(spec("h2", {"t"}, "user"));
  submit_one(spec("h3", {"t"}, "maas"));
  submit_one(on_site(spec("h4"), "dc2"));
  ASSERT_EQ(claim("t", 1).size(), 1u);  // the maas one
  auto o = db().overview("dc1", clock_->now() - 60000, {"t"}, clock_->now());
  ASSERT_TRUE(o) << message_of(o.error());
  std::int64_t queued_user = 0, running_maas = 0, total = 0;
  for (const auto& r : o->active) {
    EXPECT_EQ(r.action, "test");
    total += r.count;
    if (r.priority_class == "user" && r.state == storage::request_state::queued)
      queued_user += r.count;
    if (r.priority_class == "maas" && r.state == storage::request_state::running)
      running_maas += r.count;
  }
  EXPECT_EQ(queued_user, 2);
  EXPECT_EQ(running_maas, 1);
  EXPECT_EQ(total, 3);
}

TEST_P(StoreConformance, FinishedRequestsCarryTheirEstimateAndLastOwner) {
  auto s = spec("h1", {"a", "b"});
  s.eta_at = clock_->now() + 5000;
  auto id = submit_one(s);
  auto other = submit_one(spec("h2", {"a"}));
  auto since = clock_->now();
  clock_->advance(1000);
  for (const auto& j : claim("a", 10, "n1@x/a.0")) complete(j);
  clock_->advance(2000);
  for (const auto& j : claim("b", 10, "n2@y/b.0")) complete(j);
  auto done = db().finished_requests("dc1", since, 100);
  ASSERT_TRUE(done) << message_of(done.error());
  ASSERT_EQ(done->size(), 2u);
  // Oldest first: `other` finished with its only job, at +1 s.
  EXPECT_EQ(done->at(0).id, other);
  EXPECT_EQ(done->at(0).eta_at, 0);
  EXPECT_EQ(done->at(0).last_owner, "n1@x/a.0");
  EXPECT_EQ(done->at(1).id, id);
  EXPECT_EQ(done->at(1).state, storage::request_state::succeeded);
  EXPECT_EQ(done->at(1).eta_at, since + 5000);
  EXPECT_EQ(done->at(1).created_at, since);
  EXPECT_EQ(done->at(1).started_at, since + 1000);
  EXPECT_EQ(done->at(1).finished_at, since + 3000);
  EXPECT_EQ(done->at(1).last_owner, "n2@y/b.0");
  // Only after the given time, and only the site's.
  auto later = db().finished_requests("dc1", since + 1000, 100);
  ASSERT_TRUE(later);
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ(later->at(0).id, id);
  EXPECT_TRUE(db().finished_requests("dc2", since, 100)->empty());
  // The request's own view shows the estimate and its progress.
  auto v = request(id);
  EXPECT_EQ(v.eta_at_submission, since + 5000);
  EXPECT_EQ(v.chain_length, 2);
  EXPECT_EQ(v.jobs_done, 2);
}

TEST_P(StoreConformance, ListingsCountEachRequestsDoneSteps) {
  auto id = submit_one(spec("h1", {"a", "b", "c"}));
  for (const auto& j : claim("a")) complete(j);
  storage::request_filter f;
  auto page = db().requests(f);
  ASSERT_TRUE(page) << message_of(page.error());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, id);
  EXPECT_EQ(page->items[0].chain_length, 3);
  EXPECT_EQ(page->items[0].jobs_done, 1);
}

TEST_P(StoreConformance, JobQueueCountsReadyAndRecentlyDoneJobsByType) {
  submit_one(spec("h1", {"a"}, "user"));
  submit_one(spec("h2", {"a"}, "user"));
  auto t0 = clock_->now();
  clock_->advance(4000);
  submit_one(spec("h3", {"a"}, "maas"));
  submit_one(spec("h4", {"b"}, "user"));
  submit_one(on_site(spec("h5", {"a"}), "dc2"));
  // The maas job goes first; it is done now.
  auto first = db().claim("w", "a", 1, 30000, storage::action_filter{{}, {}, "dc1", ""});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  complete(first->front());
  auto o = db().overview("dc1", clock_->now() - 60000, {"a", "b", "c"}, t0);
  ASSERT_TRUE(o) << message_of(o.error());
  auto find = [&](const std::string& type, const std::string& cls) {
    auto it = std::find_if(o->ready.begin(), o->ready.end(), [&](const storage::ready_jobs_row& r) {
      return r.type == type && r.priority_class == cls;
    });
    return it == o->ready.end() ? storage::ready_jobs_row{} : *it;
  };
  EXPECT_EQ(find("a", "user").count, 2);
  EXPECT_EQ(find("a", "user").oldest_since, t0);
  EXPECT_EQ(find("a", "user").done, 0);
  EXPECT_EQ(find("a", "maas").count, 0);
  EXPECT_EQ(find("a", "maas").done, 1);
  EXPECT_EQ(find("b", "user").count, 1);
  EXPECT_EQ(find("c", "user").type, "");
  // Done before the window: not counted; done jobs of types not asked for: not counted.
  auto later = db().overview("dc1", clock_->now() - 60000, {"a"}, clock_->now() + 1);
  ASSERT_TRUE(later);
  for (const auto& r : later->ready) EXPECT_EQ(r.done, 0);
  auto other_types = db().overview("dc1", clock_->now() - 60000, {"b"}, t0);
  ASSERT_TRUE(other_types);
  for (const auto& r : other_types->ready) EXPECT_EQ(r.done, 0);
  // Without types, the ready jobs still come, every type.
  auto untyped = db().overview("dc1", clock_->now() - 60000, {}, t0);
  ASSERT_TRUE(untyped);
  std::int64_t ready = 0;
  for (const auto& r : untyped->ready) ready += r.count;
  EXPECT_EQ(ready, 3);
}

}  // namespace ab::testing
