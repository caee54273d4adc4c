// The Grafana dashboard (deploy/grafana/autobuild.json) as Grafana 9 and 10 import it: a
// current schema, the data source a variable, every panel with queries, and every metric it
// names one that nodes or routers export. Whether each query returns data is checked against
// a real Prometheus by tests/integration/prometheus_test.

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace ab::testing {
namespace {

using json = nlohmann::json;

json dashboard() {
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/deploy/grafana/autobuild.json"};
  return json::parse(in, nullptr, false);
}

/// The panels, rows' own panels included.
void collect(const json& panels, std::vector<json>& out) {
  for (const auto& p : panels) {
    out.push_back(p);
    if (p.contains("panels")) collect(p["panels"], out);
  }
}

std::vector<json> panels_of(const json& d) {
  std::vector<json> out;
  if (d.contains("panels")) collect(d["panels"], out);
  return out;
}

/// The metric names of docs/metrics.md that the dashboard may use (histograms by family).
const std::set<std::string>& exported() {
  static const std::set<std::string> names{"ab_build_info",
                                           "ab_node_info",
                                           "ab_requests_submitted_total",
                                           "ab_requests_finished_total",
                                           "ab_job_duration_seconds",
                                           "ab_queue_depth",
                                           "ab_queue_oldest_wait_seconds",
                                           "ab_requests_active",
                                           "ab_requests_stuck",
                                           "ab_claims_total",
                                           "ab_job_retries_total",
                                           "ab_straggler_recoveries_total",
                                           "ab_worker_restarts_total",
                                           "ab_bmc_calls_total",
                                           "ab_bmc_call_duration_seconds",
                                           "ab_bmc_breakers_open",
                                           "ab_bmc_breaker_opened_total",
                                           "ab_http_requests_total",
                                           "ab_http_request_duration_seconds",
                                           "ab_http_rejected_total",
                                           "ab_http_open_connections",
                                           "ab_eta_relative_error",
                                           "ab_eta_seconds",
                                           "ab_router_heartbeats_total",
                                           "ab_router_node_heartbeat_age_seconds",
                                           "ab_router_nodes",
                                           "ab_router_proxied_total",
                                           "ab_router_proxy_duration_seconds",
                                           "ab_router_failovers_total",
                                           "process_cpu_seconds_total",
                                           "process_resident_memory_bytes",
                                           "process_open_fds",
                                           "up"};
  return names;
}

TEST(GrafanaDashboard, IsACurrentSchemaWithTheDataSourceAsAVariable) {
  auto d = dashboard();
  ASSERT_TRUE(d.is_object()) << "deploy/grafana/autobuild.json is not JSON";
  EXPECT_GE(d.value("schemaVersion", 0), 36);  // Grafana 9.0
  EXPECT_LE(d.value("schemaVersion", 0), 39);  // Grafana 10.x
  EXPECT_EQ(d.value("uid", ""), "autobuild");
  std::set<std::string> variables;
  for (const auto& v : d["templating"]["list"]) {
    variables.insert(v.value("name", ""));
    if (v.value("name", "") == "DS_PROMETHEUS") {
      EXPECT_EQ(v.value("type", ""), "datasource");
      EXPECT_EQ(v.value("query", ""), "prometheus");
    } else {
      EXPECT_EQ(v["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << v.dump();
      EXPECT_EQ(v.value("allValue", ""), ".*") << v.dump();
    }
  }
  EXPECT_EQ(variables, (std::set<std::string>{"DS_PROMETHEUS", "site", "cluster", "action"}));
}

TEST(GrafanaDashboard, EveryPanelQueriesTheVariableDataSource) {
  auto d = dashboard();
  ASSERT_TRUE(d.is_object());
  std::set<int> ids;
  int queried = 0;
  for (const auto& p : panels_of(d)) {
    auto title = p.value("title", "");
    EXPECT_TRUE(ids.insert(p.value("id", 0)).second) << "panel id repeated: " << title;
    const auto& g = p["gridPos"];
    EXPECT_LE(g.value("x", 0) + g.value("w", 0), 24) << title;
    if (p.value("type", "") == "row") continue;
    EXPECT_FALSE(title.empty());
    EXPECT_EQ(p["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << title;
    ASSERT_TRUE(p.contains("targets") && !p["targets"].empty()) << title << " has no query";
    std::set<std::string> refs;
    for (const auto& t : p["targets"]) {
      EXPECT_EQ(t["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << title;
      EXPECT_FALSE(t.value("expr", "").empty()) << title;
      EXPECT_TRUE(refs.insert(t.value("refId", "")).second) << title;
    }
    ++queried;
  }
  EXPECT_GE(queried, 30);
}

TEST(GrafanaDashboard, NamesOnlyMetricsThatNodesAndRoutersExport) {
  auto d = dashboard();
  ASSERT_TRUE(d.is_object());
  // A metric name is a word of the expression followed by `{`, `[`, `)` or a space, that is
  // no function, keyword or label (labels come after `by (` / inside braces).
  const std::regex metric{R"(\b((?:ab|process)_[a-z_]+|up)\b\s*[\{\[\)])"};
  std::set<std::string> used;
  for (const auto& p : panels_of(d))
    for (const auto& t : p.value("targets", json::array())) {
      auto expr = t.value("expr", "");
      for (std::sregex_iterator it{expr.begin(), expr.end(), metric}, end; it != end; ++it) {
        auto name = (*it)[1].str();
        for (const auto* suffix : {"_bucket", "_count", "_sum"}) {
          std::string s{suffix};
          if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
              exported().count(name.substr(0, name.size() - s.size())))
            name.resize(name.size() - s.size());
        }
        EXPECT_TRUE(exported().count(name)) << p.value("title", "") << " names " << name;
        used.insert(name);
      }
    }
  // The issue's list: work, queue wait, outcomes, ETA accuracy, BMC errors and breakers,
  // node health and heartbeat age, API latency and 429s.
  for (const auto* name :
       {"ab_queue_depth", "ab_queue_oldest_wait_seconds", "ab_requests_finished_total",
        "ab_eta_relative_error", "ab_bmc_calls_total", "ab_bmc_breakers_open", "ab_router_nodes",
        "ab_router_node_heartbeat_age_seconds", "ab_http_request_duration_seconds",
        "ab_http_rejected_total"})
    EXPECT_TRUE(used.count(name)) << "no panel shows " << name;
}

}  // namespace
}  // namespace ab::testing
