// A real ab-node under a cluster map: a submission whose action no cluster serves is refused
// with the reason, the check follows a live map edit, and a request no live node can take
// says why it waits.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

class ServedActions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_served_");
    map_ = dir_ / "cluster-map.json";
    // The host's credential, in case registration checks that it resolves.
    ::setenv("AB_BMC_H1", "admin:password", 1);
    // This node is in cluster power; discover belongs to a cluster with no node at all.
    write_map(R"({"clusters": {"discover": {"actions": ["discover"]},
                  "power": {"actions": ["power_on"]}}, "default_cluster": "power"})");
    node_ = std::make_unique<harness::server_process>(
        AB_NODE_BIN,
        std::vector<std::string>{"--node-id", "n1", "--site", "dc1", "--listen", "127.0.0.1:0",
                                 "--store", "sqlite:" + (dir_ / "ab.db").string(), "--handlers",
                                 "none", "--cluster-map", map_.string(), "--map-check-interval-ms",
                                 "100", "--heartbeat-interval-ms", "500"},
        (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
    auto r = call("POST", "/v1/hosts",
                  R"({"name": "h1", "site": "dc1", "bmc_endpoint": "https://192.0.2.10",
                      "credential_ref": "env:AB_BMC_H1"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->terminate(), 0) << node_->output();
    }
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void write_map(const std::string& text) {
    // Written aside and renamed, so the watcher never reads half a file.
    auto tmp = map_;
    tmp += ".tmp";
    std::ofstream{tmp} << text;
    std::filesystem::rename(tmp, map_);
  }
  http_answer call(const std::string& method, const std::string& path,
                   const std::string& body = "") {
    return http_call(node_->port(), method, path, body);
  }
  http_answer submit(const std::string& action) {
    return call("POST", "/v1/requests", json{{"action", action}, {"host", "h1"}}.dump());
  }

  std::filesystem::path dir_;
  std::filesystem::path map_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(ServedActions, AnActionNoClusterServesIsRefusedWithTheReasonUntilTheMapServesIt) {
  auto r = submit("power_off");
  ASSERT_EQ(r.status, 422) << r.body;
  auto err = json::parse(r.body)["error"];
  EXPECT_EQ(err["code"], "action_not_served");
  auto message = err["message"].get<std::string>();
  EXPECT_NE(message.find("power_off"), std::string::npos) << message;
  EXPECT_NE(message.find(map_.string()), std::string::npos) << message;
  EXPECT_NE(message.find("power serves power_on"), std::string::npos) << message;
  EXPECT_EQ(json::parse(call("GET", "/v1/requests").body)["requests"].size(), 0u)
      << "nothing was stored";

  // The check reads the map in force: once an edit makes a cluster take the rest, it passes.
  write_map(R"({"clusters": {"discover": {"actions": ["discover"]},
                "power": {"actions": ["power_on", "*"]}}, "default_cluster": "power"})");
  EXPECT_TRUE(wait_until([&] { return submit("power_off").status == 202; }));
}

TEST_F(ServedActions, ARequestNoLiveNodeCanTakeSaysWhatItWaitsFor) {
  auto r = submit("discover");
  ASSERT_EQ(r.status, 202) << r.body;
  auto id = json::parse(r.body)["requests"][0]["id"].get<std::int64_t>();
  auto view = json::parse(call("GET", "/v1/requests/" + std::to_string(id)).body);
  EXPECT_EQ(view["state"], "queued");
  EXPECT_EQ(view.value("waiting_for", ""),
            "no live node of cluster discover (serves discover) in site dc1 has sent a heartbeat "
            "in the last 1.5 s");

  // Moving this node into the discover cluster gives the request a live node: nothing to say.
  write_map(R"({"clusters": {"discover": {"actions": ["discover"]},
                "power": {"actions": ["power_on"]}}, "default_cluster": "discover"})");
  EXPECT_TRUE(wait_until([&] {
    auto v = json::parse(call("GET", "/v1/requests/" + std::to_string(id)).body);
    return !v.contains("waiting_for");
  }));
}

TEST(NoClusterMap, ANodeWithoutAMapIsInTheOneClusterAndTakesEveryAction) {
  auto dir =
      std::filesystem::temp_directory_path() / ("ab_served_nomap_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ::setenv("AB_BMC_H1", "admin:password", 1);
  harness::server_process node{
      AB_NODE_BIN,
      {"--node-id", "n1", "--site", "dc1", "--listen", "127.0.0.1:0", "--store",
       "sqlite:" + (dir / "ab.db").string(), "--handlers", "none"},
      (dir / "node.log").string()};
  ASSERT_TRUE(node.ok()) << node.output();
  auto info = json::parse(http_call(node.port(), "GET", "/v1/node").body);
  EXPECT_EQ(info["cluster"], "all") << info.dump();
  ASSERT_EQ(http_call(node.port(), "POST", "/v1/hosts",
                      R"({"name": "h1", "site": "dc1", "bmc_endpoint": "https://192.0.2.10",
                          "credential_ref": "env:AB_BMC_H1"})")
                .status,
            201);
  for (const auto* action : {"discover", "power_off"}) {
    auto r = http_call(node.port(), "POST", "/v1/requests",
                       json{{"action", action}, {"host", "h1"}}.dump());
    EXPECT_EQ(r.status, 202) << action << ": " << r.body;
    auto id = json::parse(r.body)["requests"][0]["id"].get<std::int64_t>();
    // This node (once its first heartbeat is in) is live and in the cluster that serves
    // everything: nothing to wait for.
    json view;
    EXPECT_TRUE(wait_until([&] {
      view = json::parse(http_call(node.port(), "GET", "/v1/requests/" + std::to_string(id)).body);
      return !view.contains("waiting_for");
    })) << view.dump();
    ASSERT_EQ(
        http_call(node.port(), "POST", "/v1/requests/" + std::to_string(id) + "/cancel").status,
        200);
  }
  EXPECT_EQ(node.terminate(), 0) << node.output();
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ab::testing
