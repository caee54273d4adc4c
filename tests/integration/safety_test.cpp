// A real ab-node: a hold and a pause are state in the site database, so both outlive a
// restart of the node; a held host's submission is refused with the hold's reason, and a
// paused request says why it waits.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

class SafetyProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_safety_");
    ::setenv("AB_BMC_H1", "admin:password", 1);
    start();
    for (const char* h : {"h1", "h2"}) {
      auto r =
          call("POST", "/v1/hosts",
               json{{"name", h},
                    {"site", "dc1"},
                    {"bmc_endpoint", std::string{"https://192.0.2."} + (h[1] == '1' ? "10" : "11")},
                    {"credential_ref", "env:AB_BMC_H1"},
                    {"rack", "r1"}}
                   .dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->terminate(), 0) << node_->output();
    }
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  void start() {
    node_ = std::make_unique<harness::server_process>(
        AB_NODE_BIN,
        std::vector<std::string>{"--node-id", "n1", "--site", "dc1", "--listen", "127.0.0.1:0",
                                 "--store", "sqlite:" + (dir_ / "ab.db").string(), "--handlers",
                                 "none", "--heartbeat-interval-ms", "500"},
        (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
  }
  void restart() {
    ASSERT_EQ(node_->terminate(), 0) << node_->output();
    node_.reset();
    start();
  }
  http_answer call(const std::string& method, const std::string& path,
                   const std::string& body = "") {
    return http_call(node_->port(), method, path, body);
  }
  http_answer submit(const std::string& host) {
    return call("POST", "/v1/requests", json{{"action", "power_on"}, {"host", host}}.dump());
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(SafetyProcess, AHoldAndAPauseSurviveARestartOfTheNode) {
  auto hold = call("POST", "/v1/holds", R"({"host": "h1", "reason": "disk swap"})");
  ASSERT_EQ(hold.status, 201) << hold.body;
  EXPECT_EQ(json::parse(hold.body)["owner"], "anonymous");
  auto pause =
      call("POST", "/v1/pauses", R"({"scope": "action", "target": "power_on", "reason": "feeds"})");
  ASSERT_EQ(pause.status, 201) << pause.body;

  restart();

  auto holds = json::parse(call("GET", "/v1/holds").body);
  ASSERT_EQ(holds["holds"].size(), 1u) << holds;
  EXPECT_EQ(holds["holds"][0]["host"], "h1");
  EXPECT_EQ(holds["holds"][0]["reason"], "disk swap");
  auto pauses = json::parse(call("GET", "/v1/pauses").body);
  ASSERT_EQ(pauses["pauses"].size(), 1u) << pauses;
  EXPECT_EQ(pauses["pauses"][0]["target"], "power_on");

  // The held host is refused with the hold's reason; the other one waits for the pause.
  auto refused = submit("h1");
  ASSERT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "host_held");
  EXPECT_NE(refused.body.find("disk swap"), std::string::npos) << refused.body;
  auto queued = submit("h2");
  ASSERT_EQ(queued.status, 202) << queued.body;
  auto id = json::parse(queued.body)["requests"][0]["id"].get<std::int64_t>();
  auto view = json::parse(call("GET", "/v1/requests/" + std::to_string(id)).body);
  EXPECT_EQ(view["state"], "queued");
  EXPECT_EQ(view.value("waiting_for", ""), "paused: action power_on is paused by anonymous: feeds")
      << view;

  // Lifting and resuming are answered with what was lifted, and audited.
  auto lifted = call("DELETE", "/v1/holds/h1", R"({"note": "done"})");
  ASSERT_EQ(lifted.status, 200) << lifted.body;
  EXPECT_EQ(call("GET", "/v1/holds/h1").status, 404);
  auto resumed = call("DELETE", "/v1/pauses/action/power_on");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(json::parse(call("GET", "/v1/pauses").body)["pauses"].size(), 0u);
  auto audit = call("GET", "/v1/audit");
  EXPECT_NE(audit.body.find("hold.write"), std::string::npos);
  EXPECT_NE(audit.body.find("pause.write"), std::string::npos);
  EXPECT_EQ(submit("h1").status, 202);
}

TEST_F(SafetyProcess, AHostsRackIsStoredAndABadHoldIsRefused) {
  auto h = json::parse(call("GET", "/v1/hosts/h1").body);
  EXPECT_EQ(h["rack"], "r1");
  EXPECT_EQ(h["power_domain"], "");
  EXPECT_EQ(call("POST", "/v1/holds", R"({"host": "h1"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/holds", R"({"host": "nope", "reason": "x"})").status, 404);
  EXPECT_EQ(
      call("POST", "/v1/pauses", R"({"scope": "rack", "target": "r1", "reason": "x"})").status,
      400);
  EXPECT_EQ(call("DELETE", "/v1/pauses/site/dc1").status, 404);
}

}  // namespace
}  // namespace ab::testing
