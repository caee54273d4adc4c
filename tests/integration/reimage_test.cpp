// An end-to-end reimage through real processes: ab-node drives ab-bmcsim's simulated BMCs, and
// the simulated installer calls the node back.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/server_process.hpp"
#include "tests/fakes/bmc_node_args.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

class Reimage : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_reimage_");
    // The node reads the BMC credentials from here (credential_ref env:AB_BMC_SIM_CRED).
    ::setenv("AB_BMC_SIM_CRED", "admin:password", 1);
  }

  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->terminate(), 0);
    }
    if (sim_) {
      EXPECT_EQ(sim_->terminate(), 0);
    }
    node_.reset();
    sim_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  /// Starts ab-bmcsim (resets 20-60 ms, installs 200 ms) and ab-node with `install_timeout_ms`.
  void start(int install_timeout_ms, const std::vector<std::string>& faults = {}) {
    std::vector<std::string> sim_args{"--port", "0", "--time-scale", "0.01", "--seed", "1"};
    for (const auto& f : faults) sim_args.insert(sim_args.end(), {"--fault", f});
    sim_ = std::make_unique<harness::server_process>(AB_BMCSIM_BIN, sim_args,
                                                     (dir_ / "sim.log").string());
    ASSERT_TRUE(sim_->ok()) << sim_->output();
    auto args = bmc_node_args(dir_);
    args.insert(args.end(), {"--install-timeout-ms", std::to_string(install_timeout_ms),
                             "--bmc-timeout-ms", "2000"});
    node_ =
        std::make_unique<harness::server_process>(AB_NODE_BIN, args, (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
  }

  /// Registers host `name` at the simulated BMC of the same name.
  void add_host(const std::string& name) {
    auto body =
        json{{"name", name},
             {"site", "dc1"},
             {"bmc_endpoint", "http://127.0.0.1:" + std::to_string(sim_->port()) + "/bmc/" + name},
             {"credential_ref", "env:AB_BMC_SIM_CRED"}};
    auto reg = http_call(node_->port(), "POST", "/v1/hosts", body.dump());
    ASSERT_EQ(reg.status, 201) << reg.body;
  }

  /// Submits `action` on `host` and waits for it to end; returns the request as JSON.
  json run(const std::string& action, const std::string& host) {
    auto sub = http_call(node_->port(), "POST", "/v1/requests",
                         json{{"action", action}, {"host", host}}.dump());
    if (sub.status != 202) {
      ADD_FAILURE() << action << ": " << sub.status << " " << sub.body;
      return json();
    }
    auto id = json::parse(sub.body)["requests"][0]["id"].get<std::int64_t>();
    json request;
    bool ended = wait_until([&] {
      auto a = http_call(node_->port(), "GET", "/v1/requests/" + std::to_string(id));
      request = json::parse(a.body, nullptr, false);
      auto state = request.is_object() ? request.value("state", "") : "";
      return state == "succeeded" || state == "failed" || state == "cancelled";
    });
    EXPECT_TRUE(ended) << action << " did not end: " << request.dump();
    return request;
  }

  std::string lifecycle(const std::string& host) {
    auto a = http_call(node_->port(), "GET", "/v1/hosts/" + host);
    return json::parse(a.body, nullptr, false).value("lifecycle_state", "");
  }

  json sim_state(const std::string& id) {
    return json::parse(http_call(sim_->port(), "GET", "/sim/bmc/" + id).body, nullptr, false);
  }

  /// Discovers and builds `host`, leaving it in service.
  void bring_into_service(const std::string& host) {
    add_host(host);
    ASSERT_EQ(run("discover", host).value("state", ""), "succeeded");
    auto build = run("build", host);
    ASSERT_EQ(build.value("state", ""), "succeeded") << build.dump();
    ASSERT_EQ(lifecycle(host), "in_service");
  }

  /// Brings `host` into service, injects installer `fault` and expects the reimage to fail
  /// with an error containing `reason`, leaving the host provisioning_failed.
  void expect_reimage_fails(const std::string& host, const std::string& fault,
                            const std::string& reason) {
    bring_into_service(host);
    auto faults = json{{fault, true}}.dump();
    ASSERT_EQ(http_call(sim_->port(), "POST", "/sim/bmc/" + host + "/faults", faults).status, 200);
    auto r = run("reimage", host);
    EXPECT_EQ(r.value("state", ""), "failed");
    EXPECT_NE(r.value("error", "").find(reason), std::string::npos) << r.dump();
    EXPECT_EQ(lifecycle(host), "provisioning_failed");
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> sim_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(Reimage, SucceedsEndToEndAndLeavesTheHostBootedFromDisk) {
  start(20000);
  bring_into_service("r-01");
  auto r = run("reimage", "r-01");
  EXPECT_EQ(r.value("state", ""), "succeeded") << r.dump();
  EXPECT_EQ(lifecycle("r-01"), "in_service");
  auto sim = sim_state("r-01");
  ASSERT_TRUE(sim.is_object());
  EXPECT_EQ(sim["power"], "On");
  EXPECT_EQ(sim["boots"].back()["target"], "Hdd");
  EXPECT_EQ(sim["media"]["inserted"], false);
  // Two installs (build and reimage), each called back with the node's 2xx.
  int called_back = 0;
  for (const auto& e : sim["installs"])
    if (e["kind"] == "called_back") {
      ++called_back;
      EXPECT_EQ(e["http_status"].get<int>() / 100, 2) << e.dump();
    }
  EXPECT_EQ(called_back, 2) << sim["installs"].dump();
}

TEST_F(Reimage, AFailedInstallFailsTheRequestWithTheInstallersMessage) {
  start(20000);
  expect_reimage_fails("r-02", "install_fail", "injected install_fail");
}

TEST_F(Reimage, ALostInstallFailsAfterTheDeadlineWithAReadableReason) {
  start(2000);
  expect_reimage_fails("r-03", "install_lost", "deadline");
}

}  // namespace
}  // namespace ab::testing
