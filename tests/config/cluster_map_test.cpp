#include <gtest/gtest.h>

#include "config/cluster_map.hpp"
#include "core/error.hpp"

namespace ab::testing {

using config::parse_cluster_map;

TEST(ClusterMap, TheSampleFileIsValid) {
  auto m = config::load_cluster_map(std::string{AB_SOURCE_DIR} + "/config/cluster-map.sample.json");
  ASSERT_TRUE(m) << message_of(m.error());
  EXPECT_EQ(m->cluster_of("node-a1"), "build");
  EXPECT_EQ(m->cluster_of("unlisted"), "others");
  EXPECT_EQ(m->clusters.at("build").workers.at("install"), 8);
}

/// The sample's three clusters: build ← reimage, discover ← discover and build, others ← the rest.
config::cluster_map three_clusters() {
  auto m = parse_cluster_map(R"({"clusters": {"build": {"actions": ["reimage"]},
      "discover": {"actions": ["discover", "build"]}, "others": {"actions": ["*"]}},
      "default_cluster": "others"})",
                             "m");
  EXPECT_TRUE(m);
  return m ? *m : config::cluster_map{};
}

TEST(ClusterMap, WithoutAMapEveryNodeProcessesEveryAction) {
  auto m = config::cluster_map::defaults();
  const auto& cluster = m.cluster_of("any-node");
  EXPECT_EQ(cluster, "all");
  auto f = m.filter_for(cluster);
  EXPECT_TRUE(f.only.empty()) << "no include list: every action";
  EXPECT_TRUE(f.except.empty()) << "no exclude list: every action";
  for (const auto* action : {"discover", "build", "reimage", "wipe", "power_on", "anything"})
    EXPECT_EQ(m.cluster_serving(action), "all") << action;
}

TEST(ClusterMap, NamedActionsBecomeAnIncludeFilter) {
  auto f = three_clusters().filter_for("discover");
  EXPECT_EQ(f.only, (std::vector<std::string>{"discover", "build"}));
  EXPECT_TRUE(f.except.empty());
}

TEST(ClusterMap, TheStarClusterTakesEverythingTheOthersDoNotName) {
  auto f = three_clusters().filter_for("others");
  EXPECT_TRUE(f.only.empty());
  EXPECT_EQ(f.except, (std::vector<std::string>{"reimage", "discover", "build"}));
}

TEST(ClusterMap, TheClusterServingAnActionIsTheOneNamingItElseTheStarCluster) {
  auto m = three_clusters();
  EXPECT_EQ(m.cluster_serving("reimage"), "build");
  EXPECT_EQ(m.cluster_serving("build"), "discover");
  EXPECT_EQ(m.cluster_serving("wipe"), "others");
  m.clusters.erase("others");
  EXPECT_EQ(m.cluster_serving("wipe"), std::nullopt) << "no cluster names it and none takes *";
  EXPECT_EQ(m.describe(), "build serves reimage; discover serves discover, build");
}

TEST(ClusterMap, BadMapsAreRefusedWithTheKeyAndWhatWasExpected) {
  struct bad_case {
    const char* json;
    const char* key;
  };
  const bad_case cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "(top level)"},
      {R"({"clusters": {}})", "clusters"},
      {R"({"clusters": {"a": {"actions": []}}})", "clusters.a.actions"},
      {R"({"clusters": {"a": {"actions": [1]}}})", "clusters.a.actions"},
      {R"({"clusters": {"a": {"actions": ["x"], "color": 1}}})", "clusters.a.color"},
      {R"({"clusters": {"a": {"actions": ["x"]}, "b": {"actions": ["x"]}}, "default_cluster": "a"})",
       "already processed by cluster 'a'"},
      {R"({"clusters": {"a": {"actions": ["*"]}, "b": {"actions": ["*"]}}, "default_cluster": "a"})",
       "only one cluster"},
      {R"({"clusters": {"a": {"actions": ["x"]}}, "nodes": {"n1": "zzz"}})", "nodes.n1"},
      {R"({"clusters": {"a": {"actions": ["x"]}, "b": {"actions": ["y"]}}})", "default_cluster"},
      {R"({"clusters": {"a": {"actions": ["x"], "workers": {"t": -1}}}})", "clusters.a.workers.t"},
      {R"({"clusters": {"a": {"actions": ["x"]}}, "extra": 1})", "extra"},
  };
  for (const auto& c : cases) {
    auto m = parse_cluster_map(c.json, "map.json");
    ASSERT_FALSE(m) << c.json;
    EXPECT_TRUE(is(m.error(), errc::bad_config));
    auto msg = message_of(m.error());
    EXPECT_NE(msg.find("map.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
  }
}

TEST(ClusterMap, ASingleClusterIsTheDefault) {
  auto m = parse_cluster_map(R"({"clusters": {"all": {"actions": ["*"]}}})", "m");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->cluster_of("anyone"), "all");
  auto f = m->filter_for("all");
  EXPECT_TRUE(f.only.empty());
  EXPECT_TRUE(f.except.empty());
}

TEST(ClusterMap, AMissingFileIsAConfigurationError) {
  auto m = config::load_cluster_map("/nonexistent/map.json");
  ASSERT_FALSE(m);
  EXPECT_NE(message_of(m.error()).find("/nonexistent/map.json"), std::string::npos);
}

}  // namespace ab::testing
