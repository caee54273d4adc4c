// Upgrading one node of a running site (docs/operations.md#upgrades): a site on MariaDB with
// an ab-bmcsim fleet, two nodes of the previous release (ab-node-previous: protocol 1, schema
// up to 13) behind an ab-router, and clients submitting power actions through the router
// without pause. One node is drained (SIGTERM) and replaced by this release, which migrates
// the schema (expand-only) while the other old node keeps working; then the old node restarts
// on the migrated schema, and is upgraded in turn. No call fails, every request succeeds, the
// router sends calls to old and new nodes side by side, and a node of a protocol it does not
// speak is shown but never called.

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "storage/detail/schema.hpp"
#include "tests/fakes/bmc_node_args.hpp"
#include "tests/fakes/call_loop.hpp"
#include "tests/fakes/cluster_fixture.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

constexpr const char* secret = "rolling-upgrade-secret";
constexpr const char* metrics_token = "rolling-upgrade-scraper";
constexpr int hosts_per_client = 3;
constexpr int clients = 3;
constexpr int previous_schema = 13;

/// The value of header `name` in a raw header block ("" when absent), name case-insensitive.
std::string header_of(const std::string& headers, const std::string& name) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto all = lower(headers);
  auto at = all.find("\n" + lower(name) + ":");
  if (at == std::string::npos) return "";
  auto start = at + name.size() + 2;
  auto end = headers.find('\r', start);
  auto v = headers.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  return v;
}

/// The sum of every sample of `family` in a Prometheus text.
double sum_of(const std::string& text, const std::string& family) {
  double total = 0;
  std::size_t pos = 0;
  while ((pos = text.find("\n" + family, pos)) != std::string::npos) {
    auto line_end = text.find('\n', pos + 1);
    auto line = text.substr(pos + 1, line_end - pos - 1);
    pos = line_end;
    auto after = line.substr(family.size());
    if (after.empty() || (after[0] != '{' && after[0] != ' ')) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

class RollingUpgrade : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(mysql_test_url().empty())
        << "AB_MYSQL_URL is not set: run this test through scripts/test";
    dir_ = scratch_dir("ab_rolling_upgrade_");
    secret_file_ = write_secret_file(dir_, secret);
    token_file_ = write_secret_file(dir_, metrics_token, "metrics.token");
    // The site database as the previous release leaves it: migrated up to its schema only.
    db_ = std::make_unique<scratch_store>("mysql", std::make_shared<system_clock>(),
                                          storage::queue_policy{}, previous_schema);
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(db_->hooks().schema_version(), previous_schema);
    ::setenv("AB_BMC_UPGRADE", "admin:password", 1);
    bmcsim_ = std::make_unique<harness::server_process>(
        AB_BMCSIM_BIN, std::vector<std::string>{"--port", "0", "--time-scale", "0"},
        (dir_ / "bmcsim.log").string());
    ASSERT_TRUE(bmcsim_->ok()) << bmcsim_->output();
    router_ = start_router(secret_file_, dir_ / "router.log",
                           {"--freshness-ms", "3000", "--metrics-token-file", token_file_});
    ASSERT_TRUE(router_->ok()) << router_->output();
    start("n1", true);
    start("n2", true);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(wait_until([&] { return live_nodes(router_->port()) == 2; }))
        << router_cluster(router_->port()).dump(1);
    json hosts = json::array();
    for (int h = 0; h < clients * hosts_per_client; ++h)
      hosts.push_back({{"name", host(h)},
                       {"site", "dc1"},
                       {"bmc_endpoint",
                        "http://127.0.0.1:" + std::to_string(bmcsim_->port()) + "/bmc/" + host(h)},
                       {"credential_ref", "env:AB_BMC_UPGRADE"}});
    auto reg = http_call(router_->port(), "POST", "/v1/hosts", json{{"hosts", hosts}}.dump());
    ASSERT_EQ(reg.status, 201) << reg.body;
  }

  void TearDown() override {
    work_.reset();
    for (auto& [id, n] : nodes_)
      if (n) n->kill();
    if (router_) router_->kill();
    if (bmcsim_) bmcsim_->kill();
    db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  static std::string host(int h) { return "up-h" + std::to_string(h); }

  /// Starts node `id` of site dc1 as the previous release or this one, announced to the router.
  void start(const std::string& id, bool previous) {
    auto args = fast_bmc_options();
    args.insert(args.end(), {"--node-id",
                             id,
                             "--site",
                             "dc1",
                             "--site-id",
                             "1",
                             "--listen",
                             "127.0.0.1:0",
                             "--store",
                             db_->url(),
                             "--routers",
                             "http://127.0.0.1:" + std::to_string(router_->port()),
                             "--heartbeat-secret-file",
                             secret_file_,
                             "--router-heartbeat-interval-ms",
                             "200",
                             "--trusted-routers",
                             "127.0.0.1",
                             "--store-pool-size",
                             "4"});
    auto log = dir_ / (id + (previous ? "-previous" : "-new") + std::to_string(++starts_) + ".log");
    auto p = std::make_unique<harness::server_process>(
        previous ? AB_NODE_PREVIOUS_BIN : AB_NODE_BIN, args, log.string());
    ASSERT_TRUE(p->ok()) << p->output();
    nodes_[id] = std::move(p);
  }

  /// Drains node `id` (SIGTERM) and waits for its exit; its exit code.
  int drain(const std::string& id) {
    auto code = nodes_[id]->terminate(60);
    EXPECT_EQ(code, 0) << nodes_[id]->output();
    return code;
  }

  /// Waits until the router shows `id` fresh as release `version`.
  void wait_fresh_as(const std::string& id, const std::string& version) {
    ASSERT_TRUE(wait_until([&] {
      auto n = node_view(router_->port(), id);
      return n.value("health", "") == "fresh" && n.value("version", "") == version;
    })) << node_view(router_->port(), id).dump(1);
  }

  /// One client's loop body: submits the next power action on one of its hosts through the
  /// router and follows the request to its end; "" when everything succeeded.
  std::string one_request(int client, long i) {
    auto h = host(client * hosts_per_client + static_cast<int>(i % hosts_per_client));
    auto action = (i / hosts_per_client) % 2 == 0 ? "power_on" : "power_off";
    auto key = "upgrade-" + std::to_string(client) + "-" + std::to_string(i);
    auto r = call("POST", "/v1/requests", json{{"action", action}, {"host", h}}.dump(),
                  "Idempotency-Key: " + key + "\r\n");
    if (r.status != 202) return "submit " + key + ": " + std::to_string(r.status) + " " + r.body;
    auto doc = json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("requests")) return "submit " + key + ": " + r.body;
    auto id = std::to_string(doc["requests"][0]["id"].get<std::int64_t>());
    ++accepted_;
    std::string state;
    bool ended = wait_until(
        [&] {
          auto g = call("GET", "/v1/requests/" + id);
          if (g.status != 200) {
            state = "GET " + std::to_string(g.status) + " " + g.body;
            return true;
          }
          auto v = json::parse(g.body, nullptr, false);
          state = v.is_object() ? v.value("state", "") : g.body;
          return state == "succeeded" || state == "failed" || state == "cancelled";
        },
        std::chrono::seconds(30));
    if (!ended || state != "succeeded") return "request " + id + " (" + key + "): " + state;
    ++succeeded_;
    return "";
  }

  /// A call through the router, counted by the release that answered it.
  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    auto r = http_call(router_->port(), method, path, body, headers);
    auto version = header_of(r.headers, "X-AB-Node-Version");
    std::lock_guard<std::mutex> guard{mutex_};
    ++answered_by_[phase_][version.empty() ? "previous (no header)" : version];
    return r;
  }

  void set_phase(const std::string& p) {
    std::lock_guard<std::mutex> guard{mutex_};
    phase_ = p;
  }
  std::map<std::string, int> answered_in(const std::string& p) {
    std::lock_guard<std::mutex> guard{mutex_};
    return answered_by_[p];
  }

  /// Jobs claimed by node `id` so far, from its own /metrics (an open API on loopback).
  double claims_of(const std::string& id) {
    auto r = http_call(nodes_[id]->port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    return sum_of(r.body, "ab_claims_total");
  }

  std::filesystem::path dir_;
  std::string secret_file_, token_file_;
  std::unique_ptr<scratch_store> db_;
  std::unique_ptr<harness::server_process> bmcsim_, router_;
  std::map<std::string, std::unique_ptr<harness::server_process>> nodes_;
  int starts_ = 0;
  std::unique_ptr<call_loop> work_;
  std::atomic<long> accepted_{0}, succeeded_{0};
  std::mutex mutex_;
  std::string phase_ = "old";
  std::map<std::string, std::map<std::string, int>> answered_by_;
};

TEST_F(RollingUpgrade, OneNodeIsReplacedByTheNewReleaseWhileWorkFlowsAndNothingFails) {
  const std::string previous = std::string{AB_TEST_VERSION} + "-previous";
  const std::string current = AB_TEST_VERSION;
  auto n1 = node_view(router_->port(), "n1");
  EXPECT_EQ(n1.value("version", ""), previous) << n1;
  EXPECT_EQ(n1["protocol"], (json{{"min", 1}, {"max", 1}, {"used", 1}})) << n1;

  work_ = std::make_unique<call_loop>(clients, [this](int c, long i) { return one_request(c, i); });
  ASSERT_TRUE(work_->wait_calls(2 * clients)) << "no work flows";

  {
    SCOPED_TRACE("n1 drains and comes back as this release, which migrates the schema");
    drain("n1");
    start("n1", false);
    if (HasFatalFailure()) return;
    wait_fresh_as("n1", current);
    n1 = node_view(router_->port(), "n1");
    EXPECT_EQ(n1["protocol"], (json{{"min", 1}, {"max", 2}, {"used", 2}})) << n1;
    // The schema is this release's now, and the previous release still runs on it.
    auto older = db_->reopen({}, previous_schema);
    ASSERT_TRUE(older) << message_of(older.error());
    EXPECT_EQ(test_hooks_of(**older).schema_version(), storage::detail::latest_schema_version());
  }

  {
    SCOPED_TRACE("old and new side by side: the router calls both, both claim jobs");
    set_phase("mixed");
    auto n2_claims = claims_of("n2");
    auto n1_claims = claims_of("n1");
    ASSERT_TRUE(work_->wait_calls(4 * clients));
    ASSERT_TRUE(wait_until([&] {
      auto a = answered_in("mixed");
      return a[current] > 0 && a["previous (no header)"] > 0;
    })) << ::testing::PrintToString(answered_in("mixed"));
    EXPECT_TRUE(wait_until([&] { return claims_of("n2") > n2_claims; }))
        << "the old node n2 stopped working after the new release's migration";
    EXPECT_TRUE(wait_until([&] { return claims_of("n1") > n1_claims; }))
        << "the new node n1 claims nothing";
  }

  {
    SCOPED_TRACE("the old node restarts on the migrated schema, then is upgraded too");
    drain("n2");
    start("n2", true);
    if (HasFatalFailure()) return;
    wait_fresh_as("n2", previous);
    ASSERT_TRUE(work_->wait_calls(clients));
    drain("n2");
    start("n2", false);
    if (HasFatalFailure()) return;
    wait_fresh_as("n2", current);
    set_phase("new");
    ASSERT_TRUE(work_->wait_calls(2 * clients));
  }

  {
    SCOPED_TRACE("a node of this release tells the router it drains before it stops listening");
    auto refusals = node_view(router_->port(), "n1").value("refusals", -1);
    nodes_["n1"]->signal(SIGTERM);
    EXPECT_TRUE(wait_until([&] {
      return node_view(router_->port(), "n1").value("health", "") == "draining";
    })) << node_view(router_->port(), "n1").dump(1);
    drain("n1");
    EXPECT_EQ(node_view(router_->port(), "n1").value("refusals", -1), refusals)
        << "a call went to n1 after it said it drains";
    ASSERT_TRUE(work_->wait_calls(clients));
    start("n1", false);
    if (HasFatalFailure()) return;
    wait_fresh_as("n1", current);
  }

  {
    SCOPED_TRACE("a node of a protocol this router does not speak is shown, never called");
    auto hb = heartbeat_of("n9", "dc1", 1, "http://127.0.0.1:1", system_clock{}.now());
    hb.protocol_min = 3;
    hb.protocol_max = 4;
    hb.version = "99.0.0";
    ASSERT_EQ(post_heartbeat(router_->port(), hb, secret), 204);
    auto n9 = node_view(router_->port(), "n9");
    EXPECT_EQ(n9.value("health", ""), "incompatible") << n9;
    EXPECT_EQ(n9.value("incompatible_reason", ""),
              "speaks protocol 3-4; this router speaks 1-2: upgrade this router")
        << n9;
    EXPECT_EQ(live_nodes(router_->port()), 2);
    ASSERT_TRUE(work_->wait_calls(2 * clients));
    EXPECT_EQ(node_view(router_->port(), "n9").value("refusals", -1), 0)
        << "a call went to the incompatible node";
    auto m = http_call(router_->port(), "GET", "/metrics", "",
                       std::string{"Authorization: Bearer "} + metrics_token + "\r\n");
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_NE(m.body.find(R"(ab_router_nodes{cluster="all",site="dc1",state="incompatible"} 1)"),
              std::string::npos)
        << m.body;
  }

  auto failures = work_->stop();
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  EXPECT_GT(accepted_.load(), 10 * clients);
  EXPECT_EQ(succeeded_.load(), accepted_.load()) << "every accepted request succeeded";
  // The last phase is answered by the new release alone.
  auto last = answered_in("new");
  EXPECT_EQ(last.count("previous (no header)"), 0u) << ::testing::PrintToString(last);
}

TEST_F(RollingUpgrade, ThePreviousReleaseRefusesASchemaContractedPastIt) {
  auto args =
      std::vector<std::string>{"--node-id", "n3",       "--site",      "dc1",     "--site-id",
                               "1",         "--listen", "127.0.0.1:0", "--store", db_->url()};
  {
    // This release migrates the schema; the previous release still runs on it.
    harness::server_process q(AB_NODE_BIN, args, (dir_ / "n3-new.log").string());
    ASSERT_TRUE(q.ok()) << q.output();
    EXPECT_EQ(q.terminate(), 0) << q.output();
    harness::server_process p(AB_NODE_PREVIOUS_BIN, args, (dir_ / "n3-previous.log").string());
    ASSERT_TRUE(p.ok()) << p.output();
    EXPECT_EQ(p.terminate(), 0) << p.output();
  }
  // A later release's migration, marked as needing a release that knows version 14 or later.
  auto next = storage::detail::latest_schema_version() + 1;
  db_->raw_sql("INSERT INTO schema_migrations (version, applied_at, compatible_since) VALUES (" +
               std::to_string(next) + ", 0, " + std::to_string(previous_schema + 1) + ")");
  harness::server_process p(AB_NODE_PREVIOUS_BIN, args, (dir_ / "n3-refused.log").string());
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.early_exit_code(), 5) << p.output();
  EXPECT_NE(p.output().find("upgrade this node"), std::string::npos) << p.output();
  // This release knows version 14: it runs on it.
  harness::server_process q(AB_NODE_BIN, args, (dir_ / "n3-after.log").string());
  EXPECT_TRUE(q.ok()) << q.output();
}

}  // namespace
}  // namespace ab::testing
