// Issue 13's proof of what operators see, with Debian's real Prometheus: an ab-router and an
// ab-node (heartbeating to it, driving ab-bmcsim's simulated BMCs) do work that succeeds and
// work that fails; Prometheus scrapes both with the scraper's tokens, and the test asserts on
// chosen series through its query API, checks every /metrics body with `promtool check
// metrics`, loads deploy/prometheus/alerts.yml into it, and evaluates every query of the
// Grafana dashboard (deploy/grafana/autobuild.json), which must all return data.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "harness/child_process.hpp"
#include "harness/prometheus_server.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/bmc_node_args.hpp"
#include "tests/fakes/cluster_fixture.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* hb_secret = "prometheus-test-heartbeat-secret";
constexpr const char* scraper_token = "prometheus-test-scraper-token";
constexpr const char* router_token = "prometheus-test-router-metrics-token";
constexpr const char* admin_token = "prometheus-test-admin-token";

/// The panels of a Grafana dashboard, rows' collapsed panels included.
void collect_panels(const json& panels, std::vector<json>& out) {
  if (!panels.is_array()) return;
  for (const auto& p : panels) {
    out.push_back(p);
    if (p.contains("panels")) collect_panels(p["panels"], out);
  }
}

/// `expr` with each of `values`' variables (`$name` and `${name}`) replaced, longest name
/// first so that `$__range` never eats into `$__rate_interval`.
std::string substitute(std::string expr, const std::map<std::string, std::string>& values) {
  std::vector<std::pair<std::string, std::string>> ordered(values.begin(), values.end());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, value] : ordered)
    for (const auto& pattern : {"${" + name + "}", "$" + name})
      for (auto at = expr.find(pattern); at != std::string::npos;
           at = expr.find(pattern, at + value.size()))
        expr.replace(at, pattern.size(), value);
  return expr;
}

/// The exit code of `promtool check metrics` on `text`, its output in `log`.
int promtool_check_metrics(const fs::path& dir, const std::string& name, const std::string& text,
                           std::string& log) {
  auto body = dir / (name + ".metrics");
  auto out = dir / (name + ".promtool");
  { std::ofstream{body} << text; }
  fs::remove(out);
  int code = harness::wait_exit(harness::spawn_child("/bin/sh",
                                                     {"-c", "exec \"$0\" check metrics < \"$1\"",
                                                      harness::promtool_binary(), body.string()},
                                                     out.string()),
                                std::chrono::seconds(30));
  log = harness::read_text(out.string());
  return code;
}

class PrometheusScrape : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_prometheus_");
    // Good credentials for the simulated BMCs, and a wrong password for the host that fails.
    ::setenv("AB_BMC_PROM", "admin:password", 1);
    ::setenv("AB_BMC_PROM_BAD", "admin:wrong-password", 1);
    auto secret_file = write_secret_file(dir_, hb_secret);
    scraper_file_ = write_secret_file(dir_, scraper_token, "scraper.token");
    router_token_file_ = write_secret_file(dir_, router_token, "router-metrics.token");

    sim_ = std::make_unique<harness::server_process>(
        AB_BMCSIM_BIN, std::vector<std::string>{"--port", "0", "--time-scale", "0"},
        (dir_ / "bmcsim.log").string());
    ASSERT_TRUE(sim_->ok()) << sim_->output();
    router_ = start_router(secret_file, dir_ / "router.log",
                           {"--metrics-token-file", router_token_file_});
    ASSERT_TRUE(router_->ok()) << router_->output();

    // A policy: the scraper may read metrics and nothing else; the test's admin may do all.
    std::ofstream{dir_ / "policy.json"} << json{
        {"accounts",
         {{"prometheus",
           {{"token_sha256", auth::sha256_hex(scraper_token)}, {"roles", {"scraper"}}}},
          {"admin", {{"token_sha256", auth::sha256_hex(admin_token)}, {"roles", {"admin"}}}}}},
        {"roles",
         {{"scraper", {{{"actions", {"metrics.read"}}}}}, {"admin", {{{"actions", {"*"}}}}}}}};
    auto args = bmc_node_args(dir_);
    args.insert(args.end(),
                {"--node-id", "n1", "--site-id", "1", "--policy", (dir_ / "policy.json").string(),
                 "--routers", "http://127.0.0.1:" + std::to_string(router_->port()),
                 "--heartbeat-secret-file", secret_file, "--router-heartbeat-interval-ms", "200",
                 "--trusted-routers", "127.0.0.1", "--bmc-timeout-ms", "2000"});
    node_ =
        std::make_unique<harness::server_process>(AB_NODE_BIN, args, (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
    ASSERT_TRUE(wait_until([&] { return live_nodes(router_->port()) == 1; }))
        << router_cluster(router_->port()).dump(1) << node_->output();

    // Prometheus scrapes both every second from the start, so that rates see the work.
    auto config = harness::prometheus_config(
        {{"autobuild-node", {"127.0.0.1:" + std::to_string(node_->port())}, scraper_file_, {}},
         {"autobuild-router",
          {"127.0.0.1:" + std::to_string(router_->port())},
          router_token_file_,
          {}}},
        std::chrono::seconds(1), {std::string{AB_SOURCE_DIR} + "/deploy/prometheus/alerts.yml"});
    prometheus_ =
        std::make_unique<harness::prometheus_server>(config, (dir_ / "prometheus").string());
    ASSERT_TRUE(prometheus_->ok()) << prometheus_->output();
  }

  void TearDown() override {
    if (prometheus_ && prometheus_->ok()) {
      EXPECT_EQ(prometheus_->stop(), 0) << prometheus_->output();
    }
    if (node_ && node_->ok()) {
      EXPECT_EQ(node_->terminate(), 0) << node_->output();
    }
    if (router_ && router_->ok()) {
      EXPECT_EQ(router_->terminate(), 0) << router_->output();
    }
    if (sim_) sim_->kill();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  /// An API call through the router as the test's admin.
  http_answer call(const std::string& method, const std::string& path,
                   const std::string& body = "") {
    return http_call(router_->port(), method, path, body,
                     std::string{"Authorization: Bearer "} + admin_token + "\r\n");
  }

  /// Registers host `name` at the simulated BMC of the same name with `credential`.
  void add_host(const std::string& name, const std::string& credential) {
    auto body =
        json{{"name", name},
             {"site", "dc1"},
             {"bmc_endpoint", "http://127.0.0.1:" + std::to_string(sim_->port()) + "/bmc/" + name},
             {"credential_ref", "env:" + credential}};
    auto r = call("POST", "/v1/hosts", body.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  /// Submits `action` on `host` through the router, waits for its end; its final state.
  std::string run(const std::string& action, const std::string& host) {
    auto sub = call("POST", "/v1/requests", json{{"action", action}, {"host", host}}.dump());
    if (sub.status != 202) {
      ADD_FAILURE() << action << " " << host << ": " << sub.status << " " << sub.body;
      return "";
    }
    auto id = json::parse(sub.body)["requests"][0]["id"].get<std::int64_t>();
    std::string state;
    EXPECT_TRUE(wait_until([&] {
      auto r = json::parse(call("GET", "/v1/requests/" + std::to_string(id)).body, nullptr, false);
      state = r.is_object() ? r.value("state", "") : "";
      return state == "succeeded" || state == "failed" || state == "cancelled";
    })) << action
        << " " << host << " did not end: " << state;
    return state;
  }

  /// The value of `expr` once Prometheus has it equal to `want` (within 20 s), or its last
  /// value (NaN if none) so that the assertion shows it.
  double eventually(const std::string& expr, double want) {
    std::optional<double> v;
    wait_until([&] { return (v = prometheus_->value(expr)) && *v == want; },
               std::chrono::seconds(20));
    return v ? *v : std::nan("");
  }
  /// The value of `expr` once Prometheus has it above 0 (within 20 s), or its last value.
  double eventually_positive(const std::string& expr) {
    std::optional<double> v;
    wait_until([&] { return (v = prometheus_->value(expr)) && *v > 0; }, std::chrono::seconds(20));
    return v ? *v : std::nan("");
  }

  fs::path dir_;
  std::string scraper_file_, router_token_file_;
  std::unique_ptr<harness::server_process> sim_, router_, node_;
  std::unique_ptr<harness::prometheus_server> prometheus_;
};

TEST_F(PrometheusScrape, ChosenSeriesDashboardQueriesAndRulesAgreeWithTheWorkDone) {
  // Work through the router: three hosts whose BMC takes the node's credentials, one whose
  // BMC refuses them.
  const std::vector<std::string> good{"p1", "p2", "p3"};
  for (const auto& h : good) add_host(h, "AB_BMC_PROM");
  add_host("bad1", "AB_BMC_PROM_BAD");
  ASSERT_FALSE(HasFailure());
  int succeeded = 0, failed = 0;
  for (const auto& h : good) succeeded += run("power_off", h) == "succeeded";
  succeeded += run("power_on", "p1") == "succeeded";
  failed += run("power_off", "bad1") == "failed";
  ASSERT_EQ(succeeded, 4);
  ASSERT_EQ(failed, 1);
  // And one request that waits: its action is paused, so it stays queued (the queue gauges
  // and the active requests have a series to show).
  add_host("waiting1", "AB_BMC_PROM");
  auto paused = call("POST", "/v1/pauses",
                     json{{"scope", "action"}, {"target", "power_on"}, {"reason", "test"}}.dump());
  ASSERT_EQ(paused.status, 201) << paused.body;
  auto queued =
      call("POST", "/v1/requests", json{{"action", "power_on"}, {"host", "waiting1"}}.dump());
  ASSERT_EQ(queued.status, 202) << queued.body;

  // Both targets scraped with their tokens.
  for (const auto* job : {"autobuild-node", "autobuild-router"})
    EXPECT_EQ(eventually(std::string{"up{job=\""} + job + "\"}", 1), 1)
        << job << ": " << prometheus_->get("/api/v1/targets").dump(1);
  // The node's counters, as scraped, equal the work done.
  EXPECT_EQ(eventually(R"(sum(ab_requests_finished_total{state="succeeded"}))", succeeded),
            succeeded);
  EXPECT_EQ(eventually(R"(sum(ab_requests_finished_total{state="failed"}))", failed), failed);
  EXPECT_EQ(
      eventually(R"(sum(ab_requests_finished_total{action="power_off",state="succeeded"}))", 3), 3);
  EXPECT_EQ(eventually(R"(sum(ab_requests_submitted_total))", 6), 6);
  EXPECT_EQ(eventually(R"(sum(ab_requests_active{action="power_on"}))", 1), 1);
  EXPECT_EQ(eventually(R"(sum(ab_queue_depth))", 1), 1);
  EXPECT_EQ(eventually(R"(ab_node_info{node="n1",site="dc1",cluster="all"})", 1), 1);
  // The failed request's BMC calls did not all succeed.
  EXPECT_GT(eventually_positive(R"(sum(ab_bmc_calls_total{outcome!="ok"}))"), 0);
  // The router sees its one node fresh, has accepted its heartbeats, and proxied the calls.
  EXPECT_EQ(eventually(R"(ab_router_nodes{site="dc1",cluster="all",state="fresh"})", 1), 1);
  EXPECT_GT(eventually_positive(R"(sum(ab_router_heartbeats_total{outcome="accepted"}))"), 0);
  EXPECT_GT(eventually_positive(R"(sum(ab_router_proxied_total{site="dc1",status_class="2xx"}))"),
            0);
  EXPECT_GT(eventually_positive(R"(sum(ab_http_requests_total{server="router"}))"), 0);
  EXPECT_EQ(eventually(R"(count(ab_build_info))", 2), 2);

  // promtool accepts every /metrics body.
  for (const auto& [name, port, token] :
       {std::tuple{std::string{"node"}, node_->port(), std::string{scraper_token}},
        std::tuple{std::string{"router"}, router_->port(), std::string{router_token}}}) {
    auto r = http_call(port, "GET", "/metrics", "", "Authorization: Bearer " + token + "\r\n");
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    std::string log;
    EXPECT_EQ(promtool_check_metrics(dir_, name, r.body, log), 0) << name << ":\n" << log;
  }

  // The alerting rules loaded and evaluate without error against the real series.
  ASSERT_TRUE(wait_until(
      [&] {
        auto rules = prometheus_->get("/api/v1/rules");
        if (!rules.is_object() || rules["data"]["groups"].empty()) return false;
        for (const auto& g : rules["data"]["groups"])
          for (const auto& r : g["rules"])
            if (r.value("health", "") != "ok") return false;
        return true;
      },
      std::chrono::seconds(20)))
      << prometheus_->get("/api/v1/rules").dump(1);

  // Every query of the dashboard returns data, for all sites, clusters and actions and for
  // the ones the work used. Rates over 5 s: Prometheus has scraped every second.
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/deploy/grafana/autobuild.json"};
  auto dashboard = json::parse(in, nullptr, false);
  ASSERT_TRUE(dashboard.is_object());
  std::vector<json> panels;
  collect_panels(dashboard["panels"], panels);
  const std::map<std::string, std::string> fixed{
      {"__rate_interval", "5s"}, {"__interval", "5s"}, {"__range", "5m"}};
  const std::map<std::string, std::string> chosen{
      {"site", "dc1"}, {"cluster", "all"}, {"action", "power_off"}};
  // The variables' own queries (label_values(EXPR, LABEL)) offer the chosen values.
  std::set<std::string> variables;
  for (const auto& v : dashboard["templating"]["list"]) {
    variables.insert(v["name"].get<std::string>());
    if (v["type"] != "query") continue;
    std::smatch m;
    auto def = v["definition"].get<std::string>();
    ASSERT_TRUE(std::regex_match(def, m, std::regex{R"(label_values\((.*),\s*(\w+)\))"})) << def;
    auto expr = substitute(m[1].str(), chosen);
    auto result = prometheus_->query(expr);
    ASSERT_TRUE(result) << expr;
    std::set<std::string> offered;
    for (const auto& s : *result) offered.insert(s["metric"].value(m[2].str(), ""));
    EXPECT_TRUE(offered.count(chosen.at(v["name"].get<std::string>())))
        << v["name"] << " offers " << json(offered).dump();
  }
  EXPECT_EQ(variables, (std::set<std::string>{"DS_PROMETHEUS", "site", "cluster", "action"}));
  int evaluated = 0;
  for (const auto& values :
       {std::map<std::string, std::string>{{"site", ".*"}, {"cluster", ".*"}, {"action", ".*"}},
        chosen}) {
    auto all = fixed;
    all.insert(values.begin(), values.end());
    for (const auto& p : panels) {
      if (p.value("type", "") == "row") continue;
      ASSERT_TRUE(p.contains("targets") && !p["targets"].empty()) << p.value("title", "");
      for (const auto& t : p["targets"]) {
        auto expr = substitute(t.value("expr", ""), all);
        ASSERT_EQ(expr.find('$'), std::string::npos) << p["title"] << ": " << expr;
        // The newest scrapes may not be in yet: a few seconds' grace.
        std::string error;
        std::optional<json> result;
        wait_until([&] { return (result = prometheus_->query(expr, &error)) && !result->empty(); },
                   std::chrono::seconds(5));
        ASSERT_TRUE(result) << p["title"] << ": " << expr << ": " << error;
        EXPECT_FALSE(result->empty())
            << "panel \"" << p["title"].get<std::string>() << "\" has no data: " << expr;
        ++evaluated;
      }
    }
  }
  EXPECT_GT(evaluated, 60);
}

}  // namespace
}  // namespace ab::testing
