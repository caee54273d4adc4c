// Two ab-node processes on one site database follow the site's one cluster map: a move made
// through either node's API takes effect on both within seconds while work flows, and no
// request is lost or run twice. A node given a map file seeds the database with it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "tests/fakes/attempts_log.hpp"
#include "tests/fakes/cluster_fixture.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

using json = nlohmann::json;

class SiteClusterMapNodes : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_site_map_");
    db_ = std::make_unique<scratch_store>(GetParam(), std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
  }
  void TearDown() override {
    nodes_.clear();
    db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  harness::server_process& start_node(const std::string& id, std::vector<std::string> extra = {}) {
    // Leases far longer than their renewal interval, as in production (30 s, renewed every
    // 10 s): a job runs twice only when its node stops renewing for a whole lease, and a loaded
    // test machine can starve a process (and its database) for a couple of seconds.
    std::vector<std::string> args{"--handlers",
                                  "simulated",
                                  "--sim-log",
                                  (dir_ / "attempts.log").string(),
                                  "--sim-step-ms",
                                  "50",
                                  "--lease-ms",
                                  "10000",
                                  "--renew-interval-ms",
                                  "500",
                                  "--recovery-interval-ms",
                                  "200",
                                  "--poll-interval-ms",
                                  "20",
                                  "--idle-poll-max-ms",
                                  "200",
                                  "--heartbeat-interval-ms",
                                  "500",
                                  "--claim-batch",
                                  "4",
                                  "--store-pool-size",
                                  "4",
                                  "--cluster-map-poll-ms",
                                  "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(testing::start_node(id, "dc1", db_->url(), dir_ / (id + ".out"), args));
    EXPECT_TRUE(nodes_.back()->ok()) << nodes_.back()->output();
    return *nodes_.back();
  }

  std::vector<storage::request_id> submit(int n, const std::string& action,
                                          const std::string& prefix) {
    std::vector<storage::request_spec> specs;
    for (int i = 0; i < n; ++i) {
      storage::request_spec s;
      s.action = action;
      s.host = prefix + std::to_string(i);
      s.site = "dc1";
      s.chain = {{"sim.step", 5, 0}, {"sim.step", 5, 0}};
      specs.push_back(std::move(s));
    }
    auto out = (*db_)->submit(specs);
    EXPECT_TRUE(out) << message_of(out.error());
    std::vector<storage::request_id> ids;
    if (out)
      for (const auto& o : *out) ids.push_back(o.id);
    return ids;
  }

  bool all_succeeded(const std::vector<storage::request_id>& ids) {
    for (auto id : ids) {
      auto r = (*db_)->request(id);
      if (!r || r->state != storage::request_state::succeeded) return false;
    }
    return true;
  }

  std::vector<attempt> attempts() const { return read_attempts(dir_ / "attempts.log"); }

  /// The nodes that ran the jobs of `ids`.
  std::set<std::string> ran_on(const std::vector<storage::request_id>& ids) {
    std::set<storage::job_id> jobs;
    for (auto id : ids)
      if (auto r = (*db_)->request(id))
        for (const auto& j : r->jobs) jobs.insert(j.id);
    std::set<std::string> out;
    for (const auto& a : attempts())
      if (jobs.count(a.job)) out.insert(a.node);
    return out;
  }

  /// Every job of `ids` ran to its end exactly once.
  void expect_once(const std::vector<storage::request_id>& ids) {
    std::map<storage::job_id, int> runs;
    for (const auto& a : attempts()) ++runs[a.job];
    for (auto id : ids) {
      auto r = (*db_)->request(id);
      ASSERT_TRUE(r);
      for (const auto& j : r->jobs) EXPECT_EQ(runs[j.id], 1) << "job " << j.id;
    }
  }

  /// `GET /v1/node`'s cluster of the node on `port`.
  static std::string cluster_of(int port) {
    auto r = http_call(port, "GET", "/v1/node");
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("cluster", "") : "";
  }

  std::filesystem::path dir_;
  std::unique_ptr<scratch_store> db_;
  std::vector<std::unique_ptr<harness::server_process>> nodes_;
};

}  // namespace

TEST_P(SiteClusterMapNodes, AMoveThroughTheApiTakesEffectOnEveryNodeWhileWorkFlows) {
  auto& n1 = start_node("n1");
  auto& n2 = start_node("n2");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(cluster_of(n1.port()), "all") << "no map stored yet: the built-in one";

  // One node's API sets the site's map; both nodes follow it.
  auto put = http_call(n1.port(), "PUT", "/v1/cluster-map",
                       R"({"if_version": 0, "map": {"clusters": {"build": {"actions": ["reimage"]},
                           "others": {"actions": ["*"]}}, "nodes": {"n1": "build"},
                           "default_cluster": "others"}})");
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_TRUE(wait_until([&] {
    return cluster_of(n1.port()) == "build" && cluster_of(n2.port()) == "others";
  })) << n1.output()
      << n2.output();
  auto reimages = submit(10, "reimage", "r");
  auto powers = submit(10, "power_on", "p");
  EXPECT_TRUE(wait_until([&] { return all_succeeded(reimages) && all_succeeded(powers); }));
  EXPECT_EQ(ran_on(reimages), std::set<std::string>{"n1"});
  EXPECT_EQ(ran_on(powers), std::set<std::string>{"n2"});

  // Moves through the other node's API while work is under way: n2 (named or not, live or
  // not, the map does not care) into build, n1 out of it.
  auto during = submit(20, "reimage", "d");
  auto move2 = http_call(n2.port(), "POST", "/v1/cluster-map/moves",
                         R"({"node": "n2", "cluster": "build"})");
  ASSERT_EQ(move2.status, 200) << move2.body;
  auto move1 = http_call(n2.port(), "POST", "/v1/cluster-map/moves",
                         R"({"node": "n1", "cluster": "others"})");
  ASSERT_EQ(move1.status, 200) << move1.body;
  EXPECT_EQ(json::parse(move1.body)["version"], 3);
  ASSERT_TRUE(wait_until([&] {
    return cluster_of(n1.port()) == "others" && cluster_of(n2.port()) == "build";
  })) << n1.output()
      << n2.output();
  auto reimages2 = submit(10, "reimage", "r2-");
  auto powers2 = submit(10, "power_on", "p2-");
  EXPECT_TRUE(wait_until(
      [&] { return all_succeeded(during) && all_succeeded(reimages2) && all_succeeded(powers2); }));
  EXPECT_EQ(ran_on(reimages2), std::set<std::string>{"n2"});
  EXPECT_EQ(ran_on(powers2), std::set<std::string>{"n1"});
  for (const auto* ids : {&reimages, &powers, &during, &reimages2, &powers2}) expect_once(*ids);

  // Both nodes answer the same document.
  auto a = json::parse(http_call(n1.port(), "GET", "/v1/cluster-map").body);
  auto b = json::parse(http_call(n2.port(), "GET", "/v1/cluster-map").body);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a["version"], 3);
  EXPECT_EQ(n1.terminate(), 0) << n1.output();
  EXPECT_EQ(n2.terminate(), 0) << n2.output();
}

TEST_P(SiteClusterMapNodes, AMapFileSeedsTheDatabaseOnceAndTheDatabaseMapWinsAfter) {
  auto file = dir_ / "cluster-map.json";
  std::ofstream{file} << R"({"clusters": {"build": {"actions": ["reimage"]},
      "others": {"actions": ["*"]}}, "nodes": {"n1": "build"}, "default_cluster": "others"})";
  std::vector<std::string> seeded{"--cluster-map", file.string(), "--cluster-map-source",
                                  "database"};
  auto& n1 = start_node("n1", seeded);
  ASSERT_FALSE(HasFailure());
  auto d = json::parse(http_call(n1.port(), "GET", "/v1/cluster-map").body);
  EXPECT_EQ(d["version"], 1);
  EXPECT_EQ(d["changed_by"], "node:n1");
  EXPECT_EQ(cluster_of(n1.port()), "build");
  ASSERT_EQ(
      http_call(n1.port(), "POST", "/v1/cluster-map/moves", R"({"node": "n2", "cluster": "build"})")
          .status,
      200);
  // A second node with the same file: the database holds a map, so the file is not used.
  auto& n2 = start_node("n2", seeded);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(cluster_of(n2.port()), "build");
  EXPECT_EQ(json::parse(http_call(n2.port(), "GET", "/v1/cluster-map").body)["version"], 2);
  EXPECT_EQ(n1.terminate(), 0) << n1.output();
  EXPECT_EQ(n2.terminate(), 0) << n2.output();
}

INSTANTIATE_TEST_SUITE_P(Backends, SiteClusterMapNodes, ::testing::Values("sqlite", "mysql"));

}  // namespace ab::testing
