// The node's service actors under the supervisor: restarted after a crash, counted, and
// working again (the map still reaches a restarted heartbeat).

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "actors/services.hpp"
#include "tests/actors/supervisor_fixture.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

/// Remembers the last actor that a service spec spawned, so that a test can kill it.
class spawned {
 public:
  /// `spec` with its spawn function wrapped to remember what it spawns.
  actors::service_spec watch(actors::service_spec spec) {
    auto inner = spec.spawn;
    spec.spawn = [this, inner](caf::actor_system& sys, const actors::supervisor_actor& sup,
                               const config::cluster_map& map) {
      auto h = inner(sys, sup, map);
      std::lock_guard<std::mutex> lock{mutex_};
      last_ = h;
      ++count_;
      return h;
    };
    return spec;
  }
  caf::actor last() {
    std::lock_guard<std::mutex> lock{mutex_};
    return last_;
  }
  int count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return count_;
  }

 private:
  std::mutex mutex_;
  caf::actor last_;
  int count_ = 0;
};

}  // namespace

TEST_F(Supervisor, AKilledStragglerManagerIsRestartedCountedAndRecoversAgain) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  spawned straggler;  // after the system: it holds actor handles
  auto sup = start(sys, config::cluster_map::defaults(), [&](actors::supervisor_config& c) {
    c.services = {straggler.watch(actors::straggler_service(store(), 50))};
  });
  ASSERT_TRUE(wait_until([&] { return straggler.count() == 1; }));
  EXPECT_EQ(status(sys, sup).service_restarts["straggler"], 0);
  auto first = straggler.last();
  caf::anon_send_exit(first, caf::exit_reason::kill);
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).service_restarts["straggler"] == 1; }));
  EXPECT_EQ(straggler.count(), 2);
  EXPECT_NE(straggler.last(), first);
  // A job no worker of this node runs, claimed by an owner that never renews: only the new
  // straggler manager can hand it back once its lease lapses.
  auto id = submit("h1", {"orphan"});
  auto held = (*db_)->claim("ghost@0/orphan.0", "orphan", 1, 1);
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_TRUE(wait_until([&] {
    auto r = (*db_)->request(id);
    return r && r->jobs[0].state == storage::job_state::ready && r->jobs[0].attempts == 1;
  }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, AKilledClockCheckIsRestartedCountedAndChecksAgain) {
  std::atomic<time_ms> offset{0};
  std::atomic<int> reads{0};
  auto check = std::make_shared<actors::clock_check>(
      [&]() -> caf::expected<time_ms> {
        ++reads;
        return clk_->now() + offset.load();
      },
      clk_, 5000);
  node_.renew_interval_ms = 50;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  spawned clock;
  auto sup = start(sys, config::cluster_map::defaults(), [&](actors::supervisor_config& c) {
    c.clock_ok = check;
    c.services = {clock.watch(actors::clock_check_service(check))};
  });
  ASSERT_TRUE(wait_until([&] { return clock.count() == 1; }));
  // The supervisor asks the service before its renewals.
  EXPECT_TRUE(wait_until([&] { return reads.load() >= 2; }));
  EXPECT_EQ(status(sys, sup).service_restarts["clock_check"], 0);
  auto first = clock.last();
  caf::anon_send_exit(first, caf::exit_reason::kill);
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).service_restarts["clock_check"] == 1; }));
  EXPECT_EQ(clock.count(), 2);
  EXPECT_NE(clock.last(), first);
  // The new one checks again: a clock two minutes off is refused.
  offset = -120'000;
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).clock_refusals >= 1; }));
  EXPECT_FALSE(check->in_bound());
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, ASupervisorWithAClockCheckRunsItAsAService) {
  auto check = std::make_shared<actors::clock_check>(
      [&]() -> caf::expected<time_ms> { return clk_->now(); }, clk_, 5000);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto sup = start(sys, config::cluster_map::defaults(),
                   [&](actors::supervisor_config& c) { c.clock_ok = check; });
  auto restarts = status(sys, sup).service_restarts;
  EXPECT_EQ(restarts.count("clock_check"), 1u);
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, ARestartedHeartbeatBeatsAgainAndFollowsTheClusterMap) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  spawned heartbeat;  // after the system: it holds actor handles
  auto sup = start(sys);
  caf::anon_send(sup, actors::supervise_atom::value,
                 heartbeat.watch(actors::heartbeat_service(
                     store(), storage::node_record{"node-t", "dc1", "", "127.0.0.1:1", 0}, 50)));
  auto cluster_of_node = [&]() -> std::string {
    if (auto nodes = (*db_)->nodes())
      for (const auto& n : *nodes)
        if (n.id == "node-t") return n.cluster;
    return "";
  };
  ASSERT_TRUE(wait_until([&] { return !cluster_of_node().empty(); }));
  caf::anon_send_exit(heartbeat.last(), caf::exit_reason::kill);
  EXPECT_TRUE(wait_until([&] { return status(sys, sup).service_restarts["heartbeat"] == 1; }));
  EXPECT_EQ(heartbeat.count(), 2);
  // The supervisor hands a new map to the heartbeat it runs now, which records the new cluster.
  auto map = three_clusters();
  map.nodes["node-t"] = "build";
  caf::anon_send(sup, actors::remap_atom::value, map);
  EXPECT_TRUE(wait_until([&] { return cluster_of_node() == "build"; }));
  EXPECT_TRUE(drain(sys, sup));
}

TEST_F(Supervisor, DrainStopsTheServices) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  spawned straggler;  // after the system: it holds actor handles
  auto sup = start(sys, config::cluster_map::defaults(), [&](actors::supervisor_config& c) {
    c.services = {straggler.watch(actors::straggler_service(store(), 50))};
  });
  ASSERT_TRUE(wait_until([&] { return straggler.count() == 1; }));
  auto svc = straggler.last();
  EXPECT_TRUE(drain(sys, sup));
  caf::scoped_actor self{sys};
  self->monitor(svc);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  EXPECT_TRUE(down) << "the straggler manager outlived the drained supervisor";
  EXPECT_EQ(straggler.count(), 1) << "a stopped service is not restarted";
}

}  // namespace ab::testing
