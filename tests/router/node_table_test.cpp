// The node table actor: fresh, stale and back; refusals set aside; forged heartbeats refused
// before they reach it.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

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

// The board's readers keep the snapshot per thread and load it again only after a publish:
// every change is seen at the next read, on the thread that published it and on others, and
// boards of one process (more of them than a thread keeps) do not see each other's nodes.
TEST(TableBoard, EveryPublishIsSeenAtTheNextReadOnEveryThreadAndBoardsStayApart) {
  auto clock = std::make_shared<manual_clock>();
  router::table_options options{1000, 200, 100000};
  std::vector<std::unique_ptr<router::node_table>> tables;
  for (int i = 0; i < 6; ++i)
    tables.push_back(std::make_unique<router::node_table>(options, clock));
  auto pick = [](router::node_table& t, const std::string& site) -> std::string {
    auto c = t.board()->pick(site, {});
    if (!c) return "";
    router::table_board::release(*c);
    return c->key;
  };
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 6; ++i) {
      auto site = "dc" + std::to_string(i);
      EXPECT_EQ(pick(*tables[i], site), "");
      ASSERT_TRUE(tables[i]->beat(beat_of("n" + std::to_string(i), site, 1 + round)));
      EXPECT_EQ(pick(*tables[i], site), site + "/n" + std::to_string(i));
      EXPECT_EQ(pick(*tables[(i + 1) % 6], site), "") << "another board's node";
      clock->advance(1001);
      EXPECT_EQ(pick(*tables[i], site), "") << "stale";
    }
  auto& t = *tables[0];
  ASSERT_TRUE(t.beat(beat_of("n1", "dc0", 10)));
  std::string seen;
  std::thread reader{[&] { seen = pick(t, "dc0"); }};
  reader.join();
  EXPECT_EQ(seen, "dc0/n1");
  // The reader thread keeps that snapshot; a change after it is seen there too.
  clock->advance(1001);
  ASSERT_TRUE(t.beat(beat_of("n2", "dc0", 11)));
  std::thread again{[&] { seen = pick(t, "dc0"); }};
  again.join();
  EXPECT_EQ(seen, "dc0/n2");
}

TEST(TableBoard, TheSoleLiveSiteIsNamedAndNoneOrSeveralAreCounted) {
  auto clock = std::make_shared<manual_clock>();
  router::node_table t{{1000, 200, 100000}, clock};
  std::size_t sites = 7;
  EXPECT_EQ(t.board()->sole_live_site(sites), std::nullopt);
  EXPECT_EQ(sites, 0u);
  ASSERT_TRUE(t.beat(beat_of("n1", "dc1", 1)));
  ASSERT_TRUE(t.beat(beat_of("n2", "dc1", 1)));
  EXPECT_EQ(t.board()->sole_live_site(sites), "dc1");
  EXPECT_EQ(sites, 1u);
  ASSERT_TRUE(t.beat(beat_of("n3", "dc2", 1, 0, 2)));
  EXPECT_EQ(t.board()->sole_live_site(sites), std::nullopt);
  EXPECT_EQ(sites, 2u);
  // A site whose only node refused a connection is not live.
  auto c = t.board()->pick("dc2", {});
  ASSERT_TRUE(c);
  router::table_board::release(*c);
  t.board()->refused(*c);
  EXPECT_EQ(t.board()->sole_live_site(sites), "dc1");
  EXPECT_EQ(sites, 1u);
  clock->advance(1001);
  EXPECT_EQ(t.board()->sole_live_site(sites), std::nullopt);
  EXPECT_EQ(sites, 0u);
}

TEST(TableBoard, ANodeOfAProtocolTheRouterDoesNotSpeakIsShownWithWhyButNeverPicked) {
  auto clock = std::make_shared<manual_clock>();
  router::table_options options{1000, 200, 100000};
  options.protocol = {1, 2};
  router::node_table t{options, clock};
  auto old = beat_of("n1", "dc1", 1);  // protocol 1: says nothing of protocols
  auto now = beat_of("n2", "dc1", 1);
  now.protocol_max = 2;
  auto future = beat_of("n3", "dc1", 1);
  future.protocol_min = 3;
  future.protocol_max = 4;
  ASSERT_TRUE(t.beat(old));
  ASSERT_TRUE(t.beat(now));
  ASSERT_TRUE(t.beat(future));
  std::set<std::string> picked;
  std::map<std::string, int> protocols;
  for (int i = 0; i < 20; ++i) {
    auto c = t.pick("dc1", {});
    ASSERT_TRUE(c);
    picked.insert(c->node_id);
    protocols[c->node_id] = c->protocol;
    router::table_board::release(*c);
  }
  EXPECT_EQ(picked, (std::set<std::string>{"n1", "n2"})) << "old and new side by side, never n3";
  EXPECT_EQ(protocols["n1"], 1);
  EXPECT_EQ(protocols["n2"], 2);
  auto v = t.view();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2].health, "incompatible");
  EXPECT_EQ(v[2].incompatible_reason,
            "speaks protocol 3-4; this router speaks 1-2: upgrade this router");
  EXPECT_EQ(v[2].protocol, 0);
  EXPECT_EQ(v[0].health, "fresh");
  EXPECT_EQ(v[0].incompatible_reason, "");
  EXPECT_EQ(t.live_sites(), std::vector<std::string>{"dc1"});
  // A router that no longer speaks protocol 1 leaves the old node out too.
  router::table_options newer = options;
  newer.protocol = {2, 3};
  router::node_table u{newer, clock};
  ASSERT_TRUE(u.beat(old));
  EXPECT_FALSE(u.pick("dc1", {}));
  EXPECT_EQ(u.view()[0].incompatible_reason,
            "speaks protocol 1; this router speaks 2-3: upgrade the node");
}

TEST(TableBoard, ADrainingNodeGetsNoNewCallsUntilItAnnouncesItselfAgain) {
  auto clock = std::make_shared<manual_clock>();
  router::node_table t{{1000, 200, 100000}, clock};
  auto hb = beat_of("n1", "dc1", 1);
  hb.protocol_max = 2;
  ASSERT_TRUE(t.beat(hb));
  ASSERT_TRUE(t.pick("dc1", {}));
  hb.draining = true;
  hb.sent_at_ms = 2;
  ASSERT_TRUE(t.beat(hb));
  EXPECT_FALSE(t.pick("dc1", {}));
  EXPECT_EQ(t.view()[0].health, "draining");
  EXPECT_TRUE(t.live_sites().empty());
  // The same node id, restarted (a new release), announces itself again.
  hb.draining = false;
  hb.sent_at_ms = 3;
  ASSERT_TRUE(t.beat(hb));
  EXPECT_TRUE(t.pick("dc1", {}));
  EXPECT_EQ(t.view()[0].health, "fresh");
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
