// The lifecycle workflows end to end: a real ab-node drives simulated BMCs of a real
// ab-bmcsim through the Redfish driver — including a flaky BMC, a hung one and a BMC that
// refuses the credentials, each ending in the right terminal state with a readable reason.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "harness/server_process.hpp"
#include "tests/fakes/bmc_node_args.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

class Workflows : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_workflows_");
    // The node resolves the hosts' credential reference env:AB_BMC_SIM from its environment.
    ::setenv("AB_BMC_SIM", "admin:password", 1);
    sim_ = std::make_unique<harness::server_process>(
        AB_BMCSIM_BIN, std::vector<std::string>{"--port", "0", "--time-scale", "0", "--seed", "7"},
        (dir_ / "sim.log").string());
    ASSERT_TRUE(sim_->ok()) << sim_->output();
    auto args = bmc_node_args(dir_);
    // Transient BMC errors are waited out for 2 s (not 10 min) before they spend attempts.
    args.insert(args.end(), {"--retry-backoff-ms", "50", "--bmc-timeout-ms", "1000",
                             "--bmc-retry-base-ms", "50", "--bmc-retry-max-ms", "200",
                             "--bmc-retry-budget-ms", "2000", "--bmc-breaker-open-ms", "500"});
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

  void add_host(const std::string& name, const std::string& credential = "env:AB_BMC_SIM") {
    auto r = http_call(
        node_->port(), "POST", "/v1/hosts",
        json{{"name", name},
             {"site", "dc1"},
             {"bmc_endpoint", "http://127.0.0.1:" + std::to_string(sim_->port()) + "/bmc/" + name},
             {"credential_ref", credential}}
            .dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void fault(const std::string& bmc, const json& faults) {
    auto r = http_call(sim_->port(), "POST", "/sim/bmc/" + bmc + "/faults", faults.dump());
    ASSERT_LT(r.status, 300) << r.body;
  }
  json sim_state(const std::string& bmc) {
    return json::parse(http_call(sim_->port(), "GET", "/sim/bmc/" + bmc).body);
  }
  json host(const std::string& name) {
    return json::parse(http_call(node_->port(), "GET", "/v1/hosts/" + name).body);
  }

  /// Submits `action` on `name` and waits for a terminal state; returns the request.
  json run(const std::string& action, const std::string& name) {
    auto r = http_call(node_->port(), "POST", "/v1/requests",
                       json{{"action", action}, {"host", name}}.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) return {};
    auto id = std::to_string(json::parse(r.body)["requests"][0]["id"].get<std::int64_t>());
    json view;
    EXPECT_TRUE(wait_until(
        [&] {
          view = json::parse(http_call(node_->port(), "GET", "/v1/requests/" + id).body);
          auto s = view.value("state", "");
          return s == "succeeded" || s == "failed" || s == "cancelled";
        },
        std::chrono::seconds(45)))
        << view.dump(1);
    return view;
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> sim_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(Workflows, PowerDiscoverWipeAndDecommissionRunOnSimulatedBmcs) {
  add_host("h1");
  auto on = run("power_on", "h1");
  EXPECT_EQ(on["state"], "succeeded") << on.dump(1);
  EXPECT_EQ(sim_state("h1")["power"], "On");
  auto reboot = run("ipmi_reboot", "h1");
  EXPECT_EQ(reboot["state"], "succeeded") << reboot.dump(1);
  auto discover = run("discover", "h1");
  ASSERT_EQ(discover["state"], "succeeded") << discover.dump(1);
  auto h = host("h1");
  EXPECT_EQ(h["lifecycle_state"], "discovered");
  const auto& facts = h["facts"];
  EXPECT_EQ(facts["cpu_count"], 2) << h.dump(1);
  EXPECT_FALSE(facts["nics"].empty());
  EXPECT_EQ(sim_state("h1")["power"], "Off") << "discovery ends with the host off";
  auto wipe = run("wipe", "h1");
  ASSERT_EQ(wipe["state"], "succeeded") << wipe.dump(1);
  const auto& evidence = wipe["jobs"][1]["result"];
  EXPECT_EQ(evidence["erased"][0]["method"], "SecureErase") << evidence.dump();
  EXPECT_EQ(host("h1")["lifecycle_state"], "ready");
  auto gone = run("decommission", "h1");
  EXPECT_EQ(gone["state"], "succeeded") << gone.dump(1);
  EXPECT_EQ(host("h1")["lifecycle_state"], "decommissioned");
  auto refused =
      http_call(node_->port(), "POST", "/v1/requests", R"({"action":"power_on","host":"h1"})");
  EXPECT_EQ(refused.status, 409) << "nothing runs on a decommissioned host";
}

TEST_F(Workflows, AFlakyBmcIsRetriedUntilTheActionSucceeds) {
  add_host("flaky");
  fault("flaky", {{"error_rate", 0.1}});
  for (int i = 0; i < 10; ++i) {
    auto r = run(i % 2 ? "power_off" : "power_on", "flaky");
    EXPECT_EQ(r["state"], "succeeded") << r.dump(1);
  }
  EXPECT_GT(sim_state("flaky")["faults_injected"].get<int>(), 0);
}

TEST_F(Workflows, AHungBmcFailsTheRequestWithTheReasonAfterItsAttempts) {
  add_host("hung");
  fault("hung", {{"hang", true}});
  auto r = run("power_on", "hung");
  EXPECT_EQ(r["state"], "failed") << r.dump(1);
  auto error = r.value("error", "");
  EXPECT_TRUE(error.find("hung") != std::string::npos) << error;
  EXPECT_GE(r["jobs"][0]["attempts"].get<int>(), 2) << "a BMC that does not answer is retried";
}

TEST_F(Workflows, ABmcThatRefusesTheCredentialsFailsAtOnce) {
  add_host("locked");
  fault("locked", {{"auth_fail", true}});
  auto r = run("power_off", "locked");
  EXPECT_EQ(r["state"], "failed") << r.dump(1);
  EXPECT_EQ(r["jobs"][0]["attempts"], 1) << "retrying a refused login does not help";
  // A credential removed from the store after registration fails the job that needs it: the
  // node reads credentials at use. (The store is credentials/ beside the node's database.)
  auto file = dir_ / "credentials" / "nocred";
  std::ofstream(file) << "admin:password\n";
  std::filesystem::permissions(file, std::filesystem::perms::owner_read);
  add_host("nocred", "file:nocred");
  std::filesystem::remove(file);
  auto missing = run("power_off", "nocred");
  EXPECT_EQ(missing["state"], "failed");
  EXPECT_NE(missing.value("error", "").find("file:nocred"), std::string::npos) << missing.dump(1);
}

TEST(NodeBmcRules, ANodeWithoutTheLoopbackOptionRefusesLoopbackBmcsAndForeignCredentials) {
  auto dir =
      std::filesystem::temp_directory_path() / ("ab_bmc_rules_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ::setenv("AB_BMC_SIM", "admin:password", 1);
  auto args = bmc_node_args(dir);
  // The same node as the workflows run on, minus --bmc-allow-loopback.
  ASSERT_EQ(args[args.size() - 2], "--bmc-allow-loopback");
  args.resize(args.size() - 2);
  harness::server_process node(AB_NODE_BIN, args, (dir / "node.log").string());
  ASSERT_TRUE(node.ok()) << node.output();
  auto post = [&](const std::string& endpoint, const std::string& credential) {
    return http_call(node.port(), "POST", "/v1/hosts",
                     json{{"name", "h1"},
                          {"site", "dc1"},
                          {"bmc_endpoint", endpoint},
                          {"credential_ref", credential}}
                         .dump());
  };
  for (const auto* e : {"http://127.0.0.1:9000/bmc/h1", "http://localhost:9000/bmc/h1",
                        "https://169.254.169.254"}) {
    auto r = post(e, "env:AB_BMC_SIM");
    EXPECT_EQ(r.status, 422) << e << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_host") << r.body;
  }
  for (const auto* c : {"file:/etc/shadow", "file:../node.db", "env:HOME", "env:AB_SIM_BMC"}) {
    auto r = post("https://10.0.0.1", c);
    EXPECT_EQ(r.status, 422) << c << ": " << r.body;
  }
  EXPECT_EQ(post("https://10.0.0.1", "env:AB_BMC_SIM").status, 201);
  // The credentials directory beside the database, created private.
  auto perms = std::filesystem::status(dir / "credentials").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  EXPECT_EQ(node.terminate(), 0);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ab::testing
