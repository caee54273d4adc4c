// The site's cluster map on a real store: a change goes through the parser and the store's
// compare-and-set, a move reads the map again after a concurrent change, and a stored map
// that does not parse is said so.

#include <gtest/gtest.h>

#include "config/site_cluster_map.hpp"
#include "core/error.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

namespace {

config::cluster_map two_clusters() {
  auto m = config::parse_cluster_map(R"({"clusters": {"build": {"actions": ["reimage"]},
      "others": {"actions": ["*"]}}, "default_cluster": "others"})",
                                     "m");
  EXPECT_TRUE(m);
  return m ? *m : config::cluster_map{};
}

class SiteClusterMap : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<scratch_store>("sqlite", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
  }
  storage::store& db() { return **db_; }
  std::unique_ptr<scratch_store> db_;
  config::map_author alice{"alice", "10.0.0.1"};
};

}  // namespace

TEST_F(SiteClusterMap, ADatabaseWithoutAMapGivesTheBuiltInOne) {
  auto m = config::read_site_cluster_map(db());
  ASSERT_TRUE(m) << message_of(m.error());
  EXPECT_EQ(m->version, 0);
  EXPECT_EQ(m->map, config::cluster_map::defaults());
}

TEST_F(SiteClusterMap, AChangeIsStoredAsTheNextVersionAndReadBack) {
  auto put = config::change_site_cluster_map(db(), two_clusters(), 0, alice);
  ASSERT_TRUE(put) << message_of(put.error());
  EXPECT_EQ(put->version, 1);
  EXPECT_EQ(put->changed_by, "alice");
  auto read = config::read_site_cluster_map(db());
  ASSERT_TRUE(read);
  EXPECT_EQ(read->map, two_clusters());
  auto stale = config::change_site_cluster_map(db(), config::cluster_map::defaults(), 0, alice);
  ASSERT_FALSE(stale);
  EXPECT_TRUE(is(stale.error(), errc::conflict));
  auto same = config::change_site_cluster_map(db(), two_clusters(), 1, alice);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->version, 1) << "the same map again is no new version";
}

TEST_F(SiteClusterMap, AMapTheParserRefusesIsNotStored) {
  auto m = two_clusters();
  m.nodes["n1"] = "nowhere";
  auto put = config::change_site_cluster_map(db(), m, 0, alice);
  ASSERT_FALSE(put);
  EXPECT_TRUE(is(put.error(), errc::bad_config)) << message_of(put.error());
  EXPECT_EQ(*db().cluster_map_version(), 0);
}

TEST_F(SiteClusterMap, AMoveAppliesToTheMapAsItIsNowAndIsAudited) {
  ASSERT_TRUE(config::change_site_cluster_map(db(), two_clusters(), 0, alice));
  // Someone else changes the map after it was read: the move is made on their version.
  auto theirs = two_clusters();
  theirs.nodes["n2"] = "build";
  ASSERT_TRUE(config::change_site_cluster_map(db(), theirs, 1, {"bob", ""}));
  auto moved = config::move_node(db(), "n1", "build", alice);
  ASSERT_TRUE(moved) << message_of(moved.error());
  EXPECT_EQ(moved->version, 3);
  EXPECT_EQ(moved->map.cluster_of("n1"), "build");
  EXPECT_EQ(moved->map.cluster_of("n2"), "build") << "bob's change is kept";
  auto again = config::move_node(db(), "n1", "build", alice);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->version, 3) << "a node already there is no change";
  auto unknown = config::move_node(db(), "n1", "nope", alice);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is(unknown.error(), errc::not_found));
  auto log = db().audit_log({});
  ASSERT_TRUE(log);
  ASSERT_FALSE(log->empty());
  EXPECT_EQ(log->front().actor, "alice");
  EXPECT_EQ(log->front().detail, "version 2 → 3: n1: others → build");
}

TEST_F(SiteClusterMap, AStoredMapThatDoesNotParseIsABadConfigurationNamingTheVersion) {
  ASSERT_TRUE(db().change_cluster_map({R"({"clusters": {}})", 0, "mallory", "", "?"}));
  auto m = config::read_site_cluster_map(db());
  ASSERT_FALSE(m);
  EXPECT_TRUE(is(m.error(), errc::bad_config));
  EXPECT_NE(message_of(m.error()).find("version 1"), std::string::npos) << message_of(m.error());
}

}  // namespace ab::testing
