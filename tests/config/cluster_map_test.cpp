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

TEST(ClusterMap, HostileNamesSizesAndCountsAreRefused) {
  struct bad_case {
    std::string json;
    const char* key;
  };
  std::string many_clusters = R"({"clusters": {)";
  for (int i = 0; i <= 64; ++i)
    many_clusters += (i ? "," : "") + std::string{"\"c"} + std::to_string(i) +
                     R"(": {"actions": ["a)" + std::to_string(i) + R"("]})";
  many_clusters += R"(}, "default_cluster": "c0"})";
  const bad_case cases[] = {
      {R"({"clusters": {"a b": {"actions": ["x"]}}})", "a cluster name is"},
      {R"({"clusters": {"": {"actions": ["x"]}}})", "a cluster name is"},
      {R"({"clusters": {")" + std::string(65, 'c') + R"(": {"actions": ["x"]}}})",
       "a cluster name is"},
      {R"({"clusters": {"a": {"actions": ["x;drop"]}}})", "action names"},
      {R"({"clusters": {"a": {"actions": ["x"]}}, "nodes": {"n 1": "a"}})", "a node id is"},
      {R"({"clusters": {"a": {"actions": ["x"]}}, "nodes": {")" + std::string(129, 'n') +
           R"(": "a"}})",
       "a node id is"},
      {R"({"clusters": {"a": {"actions": ["x"], "workers": {"t\u0000": 1}}}})", "a job type is"},
      {R"({"clusters": {"a": {"actions": ["x"], "workers": {"t": 4294967297}}}})",
       "clusters.a.workers.t"},
      {many_clusters, "at most 64 clusters"},
      {R"({"clusters": {"a": {"actions": ["x"]}}, "nodes": {"n": ")" +
           std::string(config::cluster_map_max_bytes, 'a') + R"("}})",
       "larger than"},
  };
  for (const auto& c : cases) {
    auto m = parse_cluster_map(c.json, "map.json");
    ASSERT_FALSE(m) << c.json.substr(0, 200);
    EXPECT_TRUE(is(m.error(), errc::bad_config));
    auto msg = message_of(m.error());
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
    EXPECT_LT(msg.size(), 1000u) << "a hostile key is not echoed whole";
  }
}

TEST(ClusterMap, ItsJsonReadsBackAsTheSameMap) {
  auto m = three_clusters();
  m.nodes["n1"] = "build";
  m.clusters["build"].workers["install"] = 8;
  auto text = config::to_json(m);
  auto back = parse_cluster_map(text, "m");
  ASSERT_TRUE(back) << message_of(back.error());
  EXPECT_EQ(*back, m);
  EXPECT_EQ(config::to_json(*back), text) << "equal maps give equal text";
}

TEST(ClusterMap, AMoveNamesAClusterOfTheMapAndAValidNode) {
  auto m = three_clusters();
  auto moved = config::with_move(m, "n9", "build");
  ASSERT_TRUE(moved) << message_of(moved.error());
  EXPECT_EQ(moved->cluster_of("n9"), "build");
  EXPECT_EQ(config::describe_changes(m, *moved), "n9: others → build");
  auto unknown = config::with_move(m, "n9", "nope");
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(is(unknown.error(), errc::not_found)) << message_of(unknown.error());
  auto bad_node = config::with_move(m, "n 9", "build");
  ASSERT_FALSE(bad_node);
  EXPECT_TRUE(is(bad_node.error(), errc::invalid_argument));
}

TEST(ClusterMap, ChangesAreDescribedByWhatMoved) {
  auto before = three_clusters();
  before.nodes["n1"] = "build";
  auto after = before;
  after.nodes.erase("n1");
  after.nodes["n2"] = "discover";
  after.clusters["extra"].actions = {"wipe"};
  after.clusters.erase("others");
  after.default_cluster = "build";
  EXPECT_EQ(config::describe_changes(before, after),
            "n2: others → discover; default_cluster: others → build; "
            "cluster extra added; cluster others removed");
  EXPECT_EQ(config::describe_changes(before, before), "no change");
}

}  // namespace ab::testing
