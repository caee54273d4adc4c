// Waves end to end: a real ab-node advances a wave plan over simulated BMCs of a real
// ab-bmcsim. A wave whose BMCs refuse the credentials (the simulator's auth_fail fault) stops
// the plan on its failure threshold with the later hosts untouched; a healthy plan never has
// more than max_unavailable hosts of its group in flight and ends succeeded.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "harness/server_process.hpp"
#include "tests/fakes/bmc_node_args.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

class WavesEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_waves_");
    ::setenv("AB_BMC_SIM", "admin:password", 1);
    sim_ = std::make_unique<harness::server_process>(
        AB_BMCSIM_BIN, std::vector<std::string>{"--port", "0", "--time-scale", "0", "--seed", "7"},
        (dir_ / "sim.log").string());
    ASSERT_TRUE(sim_->ok()) << sim_->output();
    auto args = bmc_node_args(dir_);
    args.insert(args.end(), {"--wave-interval-ms", "100", "--retry-backoff-ms", "50"});
    node_ =
        std::make_unique<harness::server_process>(AB_NODE_BIN, args, (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->terminate(), 0);
    }
    if (sim_) sim_->terminate();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void add_hosts(int n) {
    json hosts = json::array();
    for (int i = 1; i <= n; ++i)
      hosts.push_back({{"name", "w" + std::to_string(i)},
                       {"site", "dc1"},
                       {"bmc_endpoint", "http://127.0.0.1:" + std::to_string(sim_->port()) +
                                            "/bmc/w" + std::to_string(i)},
                       {"credential_ref", "env:AB_BMC_SIM"}});
    auto r = http_call(node_->port(), "POST", "/v1/hosts", json{{"hosts", hosts}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void fault(const std::string& bmc, const json& faults) {
    auto r = http_call(sim_->port(), "POST", "/sim/bmc/" + bmc + "/faults", faults.dump());
    ASSERT_LT(r.status, 300) << r.body;
  }
  json wave(std::int64_t id) {
    return json::parse(http_call(node_->port(), "GET", "/v1/waves/" + std::to_string(id)).body);
  }
  std::int64_t plan(int hosts, int max_unavailable, int threshold) {
    json names = json::array();
    for (int i = 1; i <= hosts; ++i) names.push_back("w" + std::to_string(i));
    auto r = http_call(node_->port(), "POST", "/v1/waves",
                       json{{"action", "power_off"},
                            {"hosts", names},
                            {"max_unavailable", max_unavailable},
                            {"failure_threshold_pct", threshold}}
                           .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? json::parse(r.body)["id"].get<std::int64_t>() : 0;
  }
  /// Waits until plan `id` is no longer running; returns it.
  json settled(std::int64_t id, int max_running = 1 << 30) {
    json w;
    EXPECT_TRUE(wait_until(
        [&] {
          w = wave(id);
          int running = 0;
          for (const auto& h : w["hosts"]) running += h["state"] == "running";
          EXPECT_LE(running, max_running) << w.dump(1);
          return w["state"] != "running";
        },
        std::chrono::seconds(60)))
        << w.dump(1);
    return w;
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> sim_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(WavesEndToEnd, AWaveOverItsFailureThresholdStopsThePlanAndLaterHostsAreUntouched) {
  add_hosts(6);
  fault("w1", {{"auth_fail", true}});
  fault("w2", {{"auth_fail", true}});
  auto id = plan(6, 2, 49);
  auto w = settled(id);
  EXPECT_EQ(w["state"], "stopped") << w.dump(1);
  EXPECT_NE(w["reason"].get<std::string>().find("2 of 2 hosts failed"), std::string::npos)
      << w.dump(1);
  EXPECT_EQ(w["current_wave"], 1);
  for (const auto& h : w["hosts"]) {
    if (h["wave"] == 1) continue;
    EXPECT_EQ(h["state"], "pending") << h.dump();
    auto reqs = json::parse(
        http_call(node_->port(), "GET", "/v1/requests?host=" + h["host"].get<std::string>()).body);
    EXPECT_TRUE(reqs["requests"].empty()) << h.dump() << reqs.dump();
  }
}

TEST_F(WavesEndToEnd, AHealthyPlanKeepsMaxUnavailableAndSucceeds) {
  add_hosts(5);
  auto id = plan(5, 2, 0);
  auto w = settled(id, 2);
  EXPECT_EQ(w["state"], "succeeded") << w.dump(1);
  EXPECT_EQ(w["waves_total"], 3);
  for (const auto& h : w["hosts"]) EXPECT_EQ(h["state"], "succeeded") << h.dump();
}

}  // namespace
}  // namespace ab::testing
