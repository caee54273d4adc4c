// The node table actor: fresh, stale and back; refusals set aside; forged heartbeats refused
// before they reach it.

#include <gtest/gtest.h>

#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "cluster/heartbeat.hpp"
#include "core/error.hpp"
#include "router/node_table.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace ab::testing {
namespace {

using router::node_choice;

cluster::heartbeat beat_of(const std::string& node, const std::string& site, std::int64_t sent,
                           double load = 0, std::int64_t site_id = 1) {
  cluster::heartbeat hb;
  hb.node_id = node;
  hb.site = site;
  hb.site_id = site_id;
  hb.cluster = "all";
  hb.api_url = "http://127.0.0.1:1/" + node;
  hb.load = load;
  hb.version = "0.1.0";
  hb.sent_at_ms = sent;
  return hb;
}

class NodeTableActor : public ::testing::Test {
 protected:
  NodeTableActor()
      : clock_(std::make_shared<manual_clock>()),
        sys_(cfg_),
        table_(router::spawn_node_table(sys_, {1000, 200, 100000}, clock_)) {}
  ~NodeTableActor() override { caf::anon_send_exit(table_, caf::exit_reason::user_shutdown); }

  bool beat(const cluster::heartbeat& hb) {
    bool out = false;
    caf::scoped_actor self{sys_};
    self->request(table_, caf::infinite, router::beat_atom::value, router::beat_msg{hb})
        .receive([&](bool ok) { out = ok; }, [&](caf::error&) {});
    return out;
  }
  /// The node picked for `site`, or "" when there is none.
  std::string pick(const std::string& site, std::vector<std::string> exclude = {},
                   bool release = true) {
    std::string out;
    caf::scoped_actor self{sys_};
    self->request(table_, caf::infinite, router::pick_atom::value,
                  router::pick_msg{site, std::move(exclude)})
        .receive([&](const node_choice& c) { out = c.key; }, [&](caf::error&) {});
    if (release && !out.empty()) self->send(table_, router::release_atom::value, out);
    return out;
  }
  std::string site_of(std::int64_t id) {
    std::string out;
    caf::scoped_actor self{sys_};
    self->request(table_, caf::infinite, router::site_of_atom::value, id)
        .receive([&](const std::string& s) { out = s; }, [&](caf::error&) {});
    return out;
  }
  std::vector<router::node_status> view() {
    std::vector<router::node_status> out;
    caf::scoped_actor self{sys_};
    self->request(table_, caf::infinite, router::view_atom::value)
        .receive([&](const std::vector<router::node_status>& v) { out = v; }, [&](caf::error&) {});
    return out;
  }
  void refused(const std::string& key) {
    caf::scoped_actor self{sys_};
    self->send(table_, router::refused_atom::value, key);
  }

  std::shared_ptr<manual_clock> clock_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  router::node_table_actor table_;
};

TEST_F(NodeTableActor, ANodeIsRoutedToWhileFreshNotWhenStaleAndAgainOnceItBeatsAgain) {
  EXPECT_EQ(pick("dc1"), "");
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 1)));
  EXPECT_EQ(pick("dc1"), "dc1/n1");
  EXPECT_EQ(pick("dc2"), "");
  clock_->advance(1000);
  EXPECT_EQ(pick("dc1"), "dc1/n1") << "the window's last moment is still fresh";
  clock_->advance(1);
  EXPECT_EQ(pick("dc1"), "");
  ASSERT_EQ(view().size(), 1u);
  EXPECT_EQ(view()[0].health, "stale");
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 2)));
  EXPECT_EQ(pick("dc1"), "dc1/n1");
  EXPECT_EQ(view()[0].health, "fresh");
}

TEST_F(NodeTableActor, ARefusingNodeIsSetAsideUntilItsNextHeartbeatOrTheBackOff) {
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 1)));
  ASSERT_TRUE(beat(beat_of("n2", "dc1", 1)));
  refused("dc1/n1");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pick("dc1"), "dc1/n2");
  EXPECT_EQ(pick("dc1", {"dc1/n2"}), "") << "n1 is set aside, n2 excluded";
  // Its next heartbeat brings it back at once.
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 2)));
  EXPECT_EQ(pick("dc1", {"dc1/n2"}), "dc1/n1");
  // Or the back-off ends.
  refused("dc1/n1");
  EXPECT_EQ(pick("dc1", {"dc1/n2"}), "");
  EXPECT_EQ(view()[0].health, "set_aside");
  clock_->advance(200);
  EXPECT_EQ(pick("dc1", {"dc1/n2"}), "dc1/n1");
}

TEST_F(NodeTableActor, CallsSpreadOverTheNodesOfASiteByCallsInFlightThenLoad) {
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 1, 0.9)));
  ASSERT_TRUE(beat(beat_of("n2", "dc1", 1, 0.1)));
  // Equal calls in flight: the lighter load wins.
  EXPECT_EQ(pick("dc1"), "dc1/n2");
  // n2 busy with one call of this router: n1 takes the next.
  EXPECT_EQ(pick("dc1", {}, false), "dc1/n2");
  EXPECT_EQ(pick("dc1", {}, false), "dc1/n1");
  // Equal load and calls: they take turns.
  ASSERT_TRUE(beat(beat_of("n3", "dc2", 1, 0.5, 2)));
  ASSERT_TRUE(beat(beat_of("n4", "dc2", 1, 0.5, 2)));
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(pick("dc2"));
  EXPECT_EQ(seen, (std::set<std::string>{"dc2/n3", "dc2/n4"}));
}

TEST_F(NodeTableActor, AReplayedOrOlderHeartbeatChangesNothing) {
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 10)));
  clock_->advance(1001);
  EXPECT_FALSE(beat(beat_of("n1", "dc1", 10)));
  EXPECT_FALSE(beat(beat_of("n1", "dc1", 9)));
  EXPECT_EQ(pick("dc1"), "") << "a replay must not make a dead node fresh again";
}

TEST_F(NodeTableActor, RequestIdSitesComeFromHeartbeatsAndASiteIdBelongsToOneSite) {
  EXPECT_EQ(site_of(7), "");
  ASSERT_TRUE(beat(beat_of("n1", "dc1", 1, 0, 7)));
  ASSERT_TRUE(beat(beat_of("n2", "dc2", 1, 0, 8)));
  EXPECT_EQ(site_of(7), "dc1");
  EXPECT_EQ(site_of(8), "dc2");
  EXPECT_FALSE(beat(beat_of("n3", "dc3", 1, 0, 7))) << "site id 7 is dc1's";
  EXPECT_EQ(site_of(7), "dc1");
  EXPECT_EQ(pick("dc3"), "");
}

TEST(Heartbeats, AForgedOrSkewedHeartbeatIsRefusedBeforeItReachesTheTable) {
  auto hb = beat_of("n1", "dc1", 1'700'000'000'000);
  auto body = cluster::encode(hb);
  auto good = cluster::sign(body, hb.sent_at_ms, "secret");
  EXPECT_TRUE(cluster::verify(body, good, "secret", hb.sent_at_ms));
  EXPECT_FALSE(
      cluster::verify(body, cluster::sign(body, hb.sent_at_ms, "other"), "secret", hb.sent_at_ms));
  EXPECT_FALSE(cluster::verify(body, good, "secret", hb.sent_at_ms + 60001));
  auto tampered = body;
  tampered.replace(tampered.find("dc1"), 3, "dc9");
  EXPECT_FALSE(cluster::verify(tampered, good, "secret", hb.sent_at_ms));
}

}  // namespace
}  // namespace ab::testing
