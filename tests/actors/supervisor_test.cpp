// The supervisor and its workers on a real actor system and an embedded store.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "actors/clock_check.hpp"
#include "actors/services.hpp"
#include "auth/token.hpp"
#include "core/error.hpp"
#include "tests/actors/counting_store.hpp"
#include "tests/actors/supervisor_fixture.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

using actors::job_outcome;

TEST_F(Supervisor, WorkersRunChainsToTheEnd) {
  handlers_->add("a", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  handlers_->add("b", std::make_shared<scripted>([](auto&) { return job_outcome::done("{}"); }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(submit("h" + std::to_string(i), {"a", "b", "a"}));
  EXPECT_TRUE(wait_until([&] {
    for (auto id : ids)
      if (state_of(id) != storage::request_state::succeeded) return false;
    return true;
  }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, WorkersClaimOnlyJobsOfTheNodesOwnSite) {
  handlers_->add("a", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  // Queued first: without the site filter the one worker's first claim would take it.
  auto far = submit("far-1", {"a"}, "power_on", 5, "dc2");
  auto near = submit("near-1", {"a"});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  EXPECT_TRUE(wait_until([&] { return state_of(near) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
  auto r = (*db_)->request(far);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->jobs[0].attempts, 0) << "a dc1 node never claims a dc2 job";
}

TEST_F(Supervisor, ACrashedWorkerIsReplacedAndItsJobRetried) {
  std::atomic<int> crashes{0};
  handlers_->add("crashy", std::make_shared<scripted>([&](const storage::claimed_job& j) {
                   if (j.attempt == 1) {
                     ++crashes;
                     throw actors::worker_crash("simulated");
                   }
                   return job_outcome::done();
                 }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  auto straggler = actors::spawn_straggler(sys, store(), 50);
  auto id = submit("h1", {"crashy"});
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::succeeded; }));
  EXPECT_EQ(crashes.load(), 1);
  auto st = status(sys, sup);
  EXPECT_EQ(st.restarts, 1);
  EXPECT_EQ(st.workers["crashy"], 1);
  EXPECT_EQ((*db_)->request(id)->jobs[0].attempts, 2);
  caf::anon_send_exit(straggler, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, AWorkerSlotThatKeepsCrashingIsGivenUp) {
  node_.max_restarts = 2;
  node_.restart_window_ms = 600000;
  handlers_->add("doomed",
                 std::make_shared<scripted>([](const storage::claimed_job&) -> job_outcome {
                   throw actors::worker_crash("always");
                 }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  auto straggler = actors::spawn_straggler(sys, store(), 50);
  submit("h1", {"doomed"}, "power_on", 20);
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).given_up == 1; }));
  auto st = status(sys, sup);
  EXPECT_EQ(st.restarts, 2);
  EXPECT_EQ(st.workers.count("doomed"), 0u);
  caf::anon_send_exit(straggler, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, PoolsFollowTheClusterMap) {
  handlers_->add("a", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  handlers_->add("b", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  auto map = config::parse_cluster_map(
      R"({"clusters": {"x": {"actions": ["*"], "workers": {"a": 3}}}})", "test");
  ASSERT_TRUE(map);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, *map);
  auto st = status(sys, sup);
  EXPECT_EQ(st.cluster, "x");
  EXPECT_EQ(st.workers["a"], 3);
  EXPECT_EQ(st.workers["b"], 1);
  map->clusters["x"].workers = {{"a", 0}, {"b", 2}};
  caf::anon_send(sup, actors::remap_atom::value, *map);
  EXPECT_TRUE(wait_until([&] {
    auto s = status(sys, sup);
    return s.workers.count("a") == 0 && s.workers["b"] == 2;
  }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, MovingToAnotherClusterChangesWhichActionsAreClaimed) {
  handlers_->add("t", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto map = three_clusters();
  map.nodes["node-t"] = "build";
  auto sup = start(sys, map);
  auto wipe = submit("h-wipe", {"t"}, "wipe");
  auto reimage = submit("h-reimage", {"t"}, "reimage");
  EXPECT_TRUE(wait_until([&] { return state_of(reimage) == storage::request_state::succeeded; }));
  EXPECT_EQ(state_of(wipe), storage::request_state::queued) << "build nodes do not wipe";
  map.nodes["node-t"] = "others";
  caf::anon_send(sup, actors::remap_atom::value, map);
  EXPECT_TRUE(wait_until([&] { return state_of(wipe) == storage::request_state::succeeded; }));
  EXPECT_EQ(status(sys, sup).cluster, "others");
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, AClaimBegunBeforeAMoveRunsNothingTheNewClusterDoesNotTake) {
  // A claim under way with the build cluster's filter when the node moves to discover: what it
  // brings back after the move (a reimage submitted once the node says "discover") goes back
  // to the queue unrun.
  auto handler = std::make_shared<scripted>([](auto&) { return job_outcome::done(); });
  handlers_->add("t", handler);
  auto counted = std::make_shared<counting_store>(**db_);
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false, held = false, open = false;
  counted->before_claim = [&](const std::string&) {
    std::unique_lock<std::mutex> lock{mu};
    if (!hold || held) return;
    held = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  };
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto map = three_clusters();
  map.nodes["node-t"] = "build";
  auto sup = start(sys, map, [&](actors::supervisor_config& c) { c.store = counted; });
  EXPECT_EQ(status(sys, sup).cluster, "build");
  {
    std::unique_lock<std::mutex> lock{mu};
    hold = true;
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return held; }));
  }
  map.nodes["node-t"] = "discover";
  caf::anon_send(sup, actors::remap_atom::value, map);
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).cluster == "discover"; }));
  auto claims = counted->claims("t");
  auto reimage = submit("h-reimage", {"t"}, "reimage");
  {
    std::lock_guard<std::mutex> lock{mu};
    open = true;
    cv.notify_all();
  }
  // The held claim has come back, and a claim after it has begun.
  EXPECT_TRUE(wait_until([&] { return counted->claims("t") > claims; }));
  EXPECT_TRUE(drain(sys, sup));
  EXPECT_EQ(handler->runs.load(), 0) << "a discover node ran a reimage";
  auto r = (*db_)->request(reimage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->jobs[0].state, storage::job_state::ready);
  EXPECT_EQ(r->jobs[0].attempts, 0) << "given back, not counted as an attempt";
}

TEST_F(Supervisor, LeasesAreRenewedThroughTheirOwnStoreNotThePoolsOne) {
  // The node gives renewals a connection of their own: they never queue behind the pools'
  // claims for one of the store's connections (a renewal later than a lease lets recovery give
  // a running job to another node, which runs it a second time).
  node_.renew_interval_ms = 20;
  std::atomic<bool> done{false};
  handlers_->add("t", std::make_shared<scripted>([&](auto&) {
                   wait_until([&] { return done.load(); }, std::chrono::seconds(20));
                   return job_outcome::done();
                 }));
  auto pools = std::make_shared<counting_store>(**db_);
  auto leases = std::make_shared<counting_store>(**db_);
  auto id = submit("h1", {"t"});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(), [&](actors::supervisor_config& c) {
    c.store = pools;
    c.leases = leases;
  });
  EXPECT_TRUE(wait_until([&] { return leases->renewals() >= 3; }));
  EXPECT_EQ(pools->renewals(), 0) << "a renewal went through the pools' store";
  done = true;
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, AJobWhoseFailureDidNotReachTheStoreIsRetriedOnceItsLeaseRunsOut) {
  // The worker's failure was not recorded (the database was away for longer than the store
  // retries): the job stays running in the database with nobody on it. Renewed by owner, its
  // lease never ran out and recovery never retried it; renewed by the leases the pool holds,
  // it runs out and the job runs again.
  node_.renew_interval_ms = 20;
  node_.lease_ms = 1000;
  std::atomic<int> calls{0};
  handlers_->add("t", std::make_shared<scripted>([&](auto&) {
                   return calls++ == 0 ? job_outcome::retry("flaky") : job_outcome::done();
                 }));
  auto store = std::make_shared<counting_store>(**db_);
  store->lost_failures = 1;
  auto id = submit("h1", {"t"});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [&](actors::supervisor_config& c) { c.store = store; });
  // The straggler manager's part, done here.
  EXPECT_TRUE(wait_until(
      [&] {
        (void)(*db_)->recover(10);
        return state_of(id) == storage::request_state::succeeded;
      },
      std::chrono::seconds(20)))
      << "the job whose failure was lost never ran again";
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, DrainFinishesTheRunningJobAndReleasesTheRest) {
  std::atomic<int> started{0};
  handlers_->add("slow", std::make_shared<scripted>([&](auto&) {
                   ++started;
                   std::this_thread::sleep_for(std::chrono::milliseconds(300));
                   return job_outcome::done();
                 }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit("h" + std::to_string(i), {"slow"}));
  auto sup = start(sys);
  ASSERT_TRUE(wait_until([&] { return started.load() >= 1; }));
  EXPECT_TRUE(drain(sys, sup));
  int done = 0, released = 0;
  for (auto id : ids) {
    auto r = (*db_)->request(id);
    ASSERT_TRUE(r);
    if (r->state == storage::request_state::succeeded) ++done;
    if (r->jobs[0].state == storage::job_state::ready && r->jobs[0].attempts == 0) ++released;
  }
  EXPECT_EQ(done, started.load());
  EXPECT_EQ(done + released, 4) << "every job is either finished or claimable again";
  EXPECT_GE(released, 1);
}

TEST_F(Supervisor, AFinishedJobIsCommittedWhileTheWorkerRunsALongOne) {
  // One worker of type t holds two jobs of one batch: a quick one whose chain goes on, and a
  // long one. The quick one's next job must not wait for the long one to end.
  std::atomic<bool> release_long{false};
  handlers_->add("t", std::make_shared<scripted>([&](const storage::claimed_job& j) {
                   if (j.host == "long")
                     wait_until([&] { return release_long.load(); }, std::chrono::seconds(60));
                   return job_outcome::done();
                 }));
  handlers_->add("next", std::make_shared<scripted>([](auto&) { return job_outcome::done(); }));
  storage::request_spec quick, slow;
  quick.action = slow.action = "power_on";
  quick.site = slow.site = "dc1";
  quick.host = "quick";
  slow.host = "long";
  quick.chain = {{"t", 3, 0}, {"next", 3, 0}};
  slow.chain = {{"t", 3, 0}};
  auto ids = (*db_)->submit({quick, slow});
  ASSERT_TRUE(ids);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys);
  auto chain_done =
      wait_until([&] { return state_of(ids->at(0).id) == storage::request_state::succeeded; });
  EXPECT_TRUE(chain_done) << "the quick chain waited behind the long job";
  release_long = true;
  EXPECT_TRUE(
      wait_until([&] { return state_of(ids->at(1).id) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, LeaseOwnersNameTheProcessIncarnation) {
  std::atomic<bool> release{false};
  handlers_->add("t", std::make_shared<scripted>([&](auto&) {
                   wait_until([&] { return release.load(); });
                   return job_outcome::done();
                 }));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [](actors::supervisor_config& c) { c.incarnation = "feedc0de"; });
  auto id = submit("h1", {"t"});
  std::string owner;
  EXPECT_TRUE(wait_until([&] {
    auto r = (*db_)->request(id);
    owner = r ? r->jobs[0].lease_owner : "";
    return !owner.empty();
  }));
  EXPECT_EQ(owner.rfind(storage::owner_prefix("node-t", "feedc0de"), 0), 0u) << owner;
  release = true;
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, NothingIsClaimedWhileTheClockIsOffTheDatabases) {
  std::atomic<int> runs{0};
  handlers_->add("t", std::make_shared<scripted>([&](auto&) {
                   ++runs;
                   return job_outcome::done();
                 }));
  std::atomic<time_ms> offset{-120'000};
  auto check = std::make_shared<actors::clock_check>(
      [&]() -> caf::expected<time_ms> { return clk_->now() + offset.load(); }, clk_, 5000);
  EXPECT_TRUE(is(check->check(), errc::conflict)) << "two minutes off";
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [&](actors::supervisor_config& c) { c.clock_ok = check; });
  auto id = submit("h1", {"t"});
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).clock_refusals >= 2; }));
  EXPECT_EQ(runs.load(), 0);
  EXPECT_EQ(state_of(id), storage::request_state::queued);
  offset = 100;
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, AJobWokenByItsCallbackRunsWithoutWaitingForThePoolsNextPoll) {
  // Idle pools poll once an hour here: only the wake can start the woken job within the test.
  node_.poll_interval_ms = 3'600'000;
  node_.idle_poll_max_ms = 3'600'000;
  handlers_->add("t", std::make_shared<scripted>([&](const storage::claimed_job& job) {
                   return job.event.empty()
                              ? job_outcome::park("install:" + std::to_string(job.request),
                                                  clk_->now() + 3'600'000)
                              : job_outcome::done();
                 }));
  auto id = submit("h1", {"t"});
  ASSERT_FALSE((*db_)->issue_callback(
      {id, auth::sha256_hex("tok"), "install:" + std::to_string(id), clk_->now() + 3'600'000}));
  auto counted = std::make_shared<counting_store>(**db_);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [&](actors::supervisor_config& c) { c.store = counted; });
  // Parked, and the pool's claim after the park came back empty: it sleeps now.
  ASSERT_TRUE(wait_until([&] {
    auto r = (*db_)->request(id);
    return r && r->jobs[0].state == storage::job_state::parked && counted->claims("t") >= 2;
  }));
  ASSERT_FALSE((*db_)->redeem_callback(id, auth::sha256_hex("tok"), R"({"ok":true})"));
  caf::anon_send(sup, actors::wake_atom::value, id);
  EXPECT_TRUE(wait_until([&] { return state_of(id) == storage::request_state::succeeded; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST(ClockCheck, AcceptsASmallSkewAndRefusesALargeOne) {
  auto clk = std::make_shared<manual_clock>();
  time_ms offset = 4000;
  actors::clock_check check([&]() -> caf::expected<time_ms> { return clk->now() + offset; }, clk,
                            5000);
  EXPECT_FALSE(check.check());
  EXPECT_TRUE(check.in_bound());
  EXPECT_EQ(check.skew_ms(), -4000);
  offset = -6000;
  EXPECT_TRUE(is(check.check(), errc::conflict));
  EXPECT_FALSE(check.in_bound());
  EXPECT_EQ(check.refusals(), 1);
  offset = 0;
  EXPECT_FALSE(check.check());
  EXPECT_TRUE(check.in_bound()) << "back within the bound";
}

TEST(ClockCheck, AnUnreachableDatabaseKeepsTheLastVerdict) {
  auto clk = std::make_shared<manual_clock>();
  bool reachable = true;
  actors::clock_check check(
      [&]() -> caf::expected<time_ms> {
        if (!reachable) return make_error(errc::store_unavailable, "away");
        return clk->now() + 60'000;
      },
      clk, 5000);
  EXPECT_TRUE(check.check());
  reachable = false;
  EXPECT_TRUE(is(check.check(), errc::store_unavailable));
  EXPECT_FALSE(check.in_bound());
}

TEST(DesiredWorkers, ClusterOverridesNodeOverridesDefault) {
  config::node_config node;
  node.workers = {{"default", 2}, {"power_on", 4}};
  auto map = three_clusters();
  map.clusters["build"].workers["install"] = 8;
  EXPECT_EQ(actors::desired_workers(node, map, "build", "install"), 8);
  EXPECT_EQ(actors::desired_workers(node, map, "build", "power_on"), 4);
  EXPECT_EQ(actors::desired_workers(node, map, "others", "install"), 2);
  node.workers.erase("default");
  EXPECT_EQ(actors::desired_workers(node, map, "others", "wipe"), 0);
}

}  // namespace ab::testing
