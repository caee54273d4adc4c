// Issue 11's proof in one system on loopback: HAProxy (deploy/haproxy/haproxy.cfg) in front
// of two ab-router processes, in front of two sites, each with a private MariaDB of its own
// (site A: a scratch database on AB_MYSQL_URL's server; site B: a server this test starts) and
// an ab-bmcsim fleet of its own. Site A has two nodes in different clusters, site B one. The
// nodes announce themselves with their real heartbeat sender; the routers leave a node out 3 s
// after its last heartbeat.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "harness/child_process.hpp"
#include "harness/haproxy_process.hpp"
#include "harness/mariadb_server.hpp"
#include "harness/server_process.hpp"
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

constexpr const char* secret = "two-site-test-secret";
constexpr std::int64_t site_block = 1'000'000'000'000;

struct site {
  std::string name;
  std::int64_t id = 0;
  std::string store;
  std::unique_ptr<harness::server_process> bmcsim;
};

class TwoSites : public ::testing::Test {
 protected:
  void SetUp() override {
    // Site A's database is a scratch database on AB_MYSQL_URL's server: without one the test
    // fails, as every MySQL test does (scripts/test starts a private MariaDB).
    ASSERT_FALSE(mysql_test_url().empty())
        << "AB_MYSQL_URL is not set: run this test through scripts/test";
    dir_ = scratch_dir("ab_two_site_");
    secret_file_ = write_secret_file(dir_, secret);
    // Site B's server takes a few seconds to initialise: done while the rest comes up.
    auto site_b_dir = (dir_ / "mariadb-b").string();
    auto site_b_installed = std::async(
        std::launch::async, [site_b_dir] { return harness::mariadb_server::install(site_b_dir); });
    site_a_db_ = std::make_unique<scratch_store>("mysql", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
    sites_["dc-a"] = site{"dc-a", 1, site_a_db_->url(), nullptr};
    sites_["dc-b"] = site{"dc-b", 2, "", nullptr};
    // The nodes resolve the hosts' credential reference from their environment.
    ::setenv("AB_BMC_TWO", "admin:password", 1);
    for (auto& [name, s] : sites_) {
      s.bmcsim = std::make_unique<harness::server_process>(
          AB_BMCSIM_BIN, std::vector<std::string>{"--port", "0", "--time-scale", "0"},
          (dir_ / ("bmcsim-" + name + ".log")).string());
      ASSERT_TRUE(s.bmcsim->ok()) << s.bmcsim->output();
    }
    for (int i = 0; i < 2; ++i) {
      routers_[i] = start_router(
          secret_file_, dir_ / ("router" + std::to_string(i) + ".log"),
          {"--freshness-ms", "3000", "--set-aside-ms", "600000", "--trusted-proxies", "127.0.0.1"});
      ASSERT_TRUE(routers_[i]->ok()) << routers_[i]->output();
      router_ports_[i] = routers_[i]->port();
    }
    EXPECT_TRUE(site_b_installed.get());
    site_b_server_ = std::make_unique<harness::mariadb_server>(site_b_dir);
    ASSERT_TRUE(site_b_server_->ok()) << site_b_server_->output();
    sites_["dc-b"].store = site_b_server_->url();

    // Site A's map, stored in its database by the first node: a1 builds (and does all
    // else), a2 discovers.
    std::ofstream{dir_ / "map-a.json"} << R"({"clusters": {"build": {"actions": ["*"]},
        "discover": {"actions": ["discover"]}}, "nodes": {"a1": "build", "a2": "discover"},
        "default_cluster": "build"})";
    start("a1", "dc-a");
    start("a2", "dc-a");
    start("b1", "dc-b");
    if (HasFatalFailure()) return;
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(wait_until([&] { return live_nodes(routers_[i]->port()) == 3; }))
          << router_cluster(routers_[i]->port()).dump(1) << nodes_["a1"]->output();

    lb_ = start_haproxy(dir_, address(0), address(1));
    ASSERT_TRUE(lb_);

    json hosts = json::array();
    for (const auto& [host, s] : host_sites_)
      hosts.push_back(
          {{"name", host},
           {"site", s},
           {"bmc_endpoint",
            "http://127.0.0.1:" + std::to_string(sites_[s].bmcsim->port()) + "/bmc/" + host},
           {"credential_ref", "env:AB_BMC_TWO"}});
    auto reg = call("POST", "/v1/hosts", json{{"hosts", hosts}}.dump());
    ASSERT_EQ(reg.status, 201) << reg.body;
  }

  void TearDown() override {
    if (lb_) {
      EXPECT_EQ(lb_->stop(), 0) << lb_->output();
    }
    for (auto& [id, n] : nodes_) n->kill();
    for (auto& r : routers_)
      if (r) r->kill();
    for (auto& [name, s] : sites_)
      if (s.bmcsim) s.bmcsim->kill();
    if (site_b_server_) site_b_server_->stop();
    site_a_db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  /// Starts (or restarts) node `id` of site `s`, announcing itself to both routers.
  void start(const std::string& id, const std::string& s) {
    const auto& st = sites_[s];
    auto extra = fast_bmc_options();
    extra.insert(extra.end(),
                 {"--site-id", std::to_string(st.id), "--routers",
                  "http://" + address(0) + ",http://" + address(1), "--heartbeat-secret-file",
                  secret_file_, "--router-heartbeat-interval-ms", "200", "--trusted-routers",
                  "127.0.0.1", "--cluster-map-poll-ms", "200", "--store-pool-size", "4"});
    if (s == "dc-a")
      extra.insert(extra.end(), {"--cluster-map", (dir_ / "map-a.json").string(),
                                 "--cluster-map-source", "database"});
    auto p = start_node(id, s, st.store, dir_ / (id + ".log"), extra);
    ASSERT_TRUE(p->ok()) << p->output();
    nodes_[id] = std::move(p);
  }

  std::string address(int i) const { return "127.0.0.1:" + std::to_string(router_ports_[i]); }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(lb_->port(), method, path, body, headers);
  }
  http_answer direct(const std::string& node, const std::string& method, const std::string& path) {
    return http_call(nodes_[node]->port(), method, path);
  }
  /// `GET /v1/node`'s cluster of node `id`.
  std::string cluster_of(const std::string& id) {
    auto j = json::parse(direct(id, "GET", "/v1/node").body, nullptr, false);
    return j.is_object() ? j.value("cluster", "") : "";
  }

  /// Submits `action` on `host` through HAProxy and waits until it ends; the request.
  json run(const std::string& action, const std::string& host) {
    auto r = call("POST", "/v1/requests", json{{"action", action}, {"host", host}}.dump(),
                  "Idempotency-Key: run-" + action + "-" + host + "-" +
                      std::to_string(++submissions_) + "\r\n");
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) return {};
    auto id = json::parse(r.body)["requests"][0]["id"].get<std::int64_t>();
    json view;
    EXPECT_TRUE(wait_until(
        [&] {
          view =
              json::parse(call("GET", "/v1/requests/" + std::to_string(id)).body, nullptr, false);
          auto s = view.is_object() ? view.value("state", "") : "";
          return s == "succeeded" || s == "failed" || s == "cancelled";
        },
        std::chrono::seconds(30)))
        << view.dump(1);
    return view;
  }

  /// Where `id` is, asked of each node directly: the node ids whose database holds it.
  std::set<std::string> holders(std::int64_t id) {
    std::set<std::string> out;
    for (const auto& [node, p] : nodes_)
      if (p->pid() > 0 && direct(node, "GET", "/v1/requests/" + std::to_string(id)).status == 200)
        out.insert(node);
    return out;
  }

  std::filesystem::path dir_;
  std::string secret_file_;
  std::unique_ptr<scratch_store> site_a_db_;
  std::unique_ptr<harness::mariadb_server> site_b_server_;
  std::map<std::string, site> sites_;
  const std::map<std::string, std::string> host_sites_{
      {"a-h1", "dc-a"}, {"a-h2", "dc-a"}, {"b-h1", "dc-b"}};
  std::unique_ptr<harness::server_process> routers_[2];
  int router_ports_[2] = {0, 0};
  std::map<std::string, std::unique_ptr<harness::server_process>> nodes_;
  std::unique_ptr<harness::haproxy_process> lb_;
  int submissions_ = 0;
};

TEST_F(TwoSites, RoutedByHostSiteSurvivingDeadNodesAndRoutersWithOneClusterMapPerSite) {
  {
    SCOPED_TRACE("requests land on a node of their host's site and end there");
    for (const auto& [action, host] : std::vector<std::pair<std::string, std::string>>{
             {"power_on", "a-h1"}, {"discover", "a-h2"}, {"power_on", "b-h1"}}) {
      auto r = run(action, host);
      ASSERT_EQ(r.value("state", ""), "succeeded") << r.dump(1);
      auto id = r["id"].get<std::int64_t>();
      const auto& s = sites_[host_sites_.at(host)];
      EXPECT_EQ(id / site_block, s.id) << "its site's block of ids";
      auto expected =
          s.name == "dc-a" ? std::set<std::string>{"a1", "a2"} : std::set<std::string>{"b1"};
      EXPECT_EQ(holders(id), expected) << host << ": only its site's database holds it";
    }
    // Each site's inventory holds its own hosts only.
    EXPECT_EQ(direct("b1", "GET", "/v1/hosts/a-h1").status, 404);
    EXPECT_EQ(direct("a2", "GET", "/v1/hosts/b-h1").status, 404);
    EXPECT_EQ(direct("a1", "GET", "/v1/hosts/a-h2").status, 200);
  }

  {
    SCOPED_TRACE("a killed node is set aside at once, then goes stale");
    nodes_["a1"]->kill();
    // A heartbeat a1 sent just before it died could still land and bring it back into use:
    // the calls start once none came for two of its intervals (and before the window ends).
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(wait_until([&] {
        return node_view(routers_[i]->port(), "a1").value("heartbeat_age_ms", 0) >= 400;
      }));
    for (int i = 0; i < 2; ++i)
      for (int c = 0; c < 6; ++c) {
        auto r = http_call(routers_[i]->port(), "GET", "/v1/hosts/a-h1?site=dc-a");
        ASSERT_EQ(r.status, 200) << "router " << i << " call " << c << ": " << r.body;
      }
    for (int i = 0; i < 2; ++i) {
      auto a1 = node_view(routers_[i]->port(), "a1");
      // Refused once, then left out: no second call went to it.
      EXPECT_EQ(a1.value("refusals", 0), 1) << a1;
      EXPECT_NE(a1.value("health", ""), "fresh") << a1;
      EXPECT_TRUE(wait_until([&] {
        return node_view(routers_[i]->port(), "a1").value("health", "") == "stale";
      })) << node_view(routers_[i]->port(), "a1");
      EXPECT_EQ(live_nodes(routers_[i]->port()), 2) << router_cluster(routers_[i]->port());
    }
  }

  {
    SCOPED_TRACE("a restarted node is picked up again");
    auto old_url = node_view(routers_[0]->port(), "a1").value("api_url", "");
    start("a1", "dc-a");
    if (HasFatalFailure()) return;
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(wait_until([&] {
        auto a1 = node_view(routers_[i]->port(), "a1");
        return a1.value("health", "") == "fresh" && a1.value("api_url", "") != old_url;
      })) << node_view(routers_[i]->port(), "a1");
    // Only a1's cluster (build) serves power_off: it runs, so a1 took it.
    auto r = run("power_off", "a-h1");
    EXPECT_EQ(r.value("state", ""), "succeeded") << r.dump(1);
  }

  {
    SCOPED_TRACE("a killed router is survived with no failed call");
    std::mutex ids_mutex;
    std::map<std::string, std::set<std::int64_t>> ids;
    // Threads 0 to 2 each submit on a host of their own, and all of them read. (Two
    // submissions with one key at the same moment may see 409 host_busy on MySQL: the key
    // lookup of storage/detail/sql_queue.cpp's submit does not lock, so that race is kept
    // out of this test.)
    static const char* hosts[] = {"a-h1", "b-h1", "a-h2"};
    call_loop clients{4, [&](int t, long i) -> std::string {
                        const std::string host = hosts[(t + i) % 3];
                        if (t == 3 || i % 2 == 0) {
                          auto r = call("GET", "/v1/hosts/" + host);
                          return r.status == 200 ? "" : "GET " + host + " -> " + r.body;
                        }
                        // One key per host, again and again: always that one request.
                        auto got = submit_keyed(lb_->port(), "power_on", hosts[t],
                                                std::string{"kill-router-"} + hosts[t]);
                        std::lock_guard<std::mutex> guard{ids_mutex};
                        if (got.id) ids[hosts[t]].insert(got.id);
                        return got.failure;
                      }};
    EXPECT_TRUE(clients.wait_calls(60));
    EXPECT_GT(std::stol("0" + lb_->server_field("routers", "router1", "stot")), 0);
    routers_[0]->kill();
    EXPECT_TRUE(wait_until([&] {
      return lb_->server_status("routers", "router1").rfind("DOWN", 0) == 0;
    })) << lb_->admin("show stat");
    EXPECT_TRUE(clients.wait_calls(100));
    auto failures = clients.stop();
    EXPECT_TRUE(failures.empty()) << failures.size() << " of " << clients.calls()
                                  << " calls failed, first: " << failures.front();
    for (const auto& [host, got] : ids) EXPECT_EQ(got.size(), 1u) << host;
  }

  {
    SCOPED_TRACE("abctl cluster move through a router reaches every node of the site");
    auto abctl = [&](const std::vector<std::string>& args) {
      std::vector<std::string> all{"--router", "http://" + address(1)};
      all.insert(all.end(), args.begin(), args.end());
      auto log = (dir_ / "abctl.log").string();
      std::filesystem::remove(log);
      int code = harness::wait_exit(harness::spawn_child(AB_ABCTL_BIN, all, log),
                                    std::chrono::seconds(30));
      return std::make_pair(code, harness::read_text(log));
    };
    auto moved = abctl({"cluster", "move", "--site", "dc-a", "a1", "discover"});
    ASSERT_EQ(moved.first, 0) << moved.second;
    moved = abctl({"cluster", "move", "--site", "dc-a", "a2", "build"});
    ASSERT_EQ(moved.first, 0) << moved.second;
    EXPECT_TRUE(wait_until([&] { return cluster_of("a1") == "discover"; })) << cluster_of("a1");
    EXPECT_TRUE(wait_until([&] { return cluster_of("a2") == "build"; })) << cluster_of("a2");
    EXPECT_EQ(cluster_of("b1"), "all") << "site B's map is its own";
    // Both nodes of site A answer the same map; the routers learn the new clusters from the
    // nodes' heartbeats.
    auto m1 = json::parse(direct("a1", "GET", "/v1/cluster-map").body);
    EXPECT_EQ(m1, json::parse(direct("a2", "GET", "/v1/cluster-map").body));
    EXPECT_EQ(m1["version"], 3) << m1;
    EXPECT_TRUE(wait_until([&] {
      return node_view(routers_[1]->port(), "a1").value("cluster", "") == "discover" &&
             node_view(routers_[1]->port(), "a2").value("cluster", "") == "build";
    })) << router_cluster(routers_[1]->port());
    auto shown = abctl({"cluster", "show", "--site", "dc-a", "--output", "json"});
    EXPECT_EQ(shown.first, 0) << shown.second;
    // Only a2 (now build) serves power_off.
    auto r = run("power_off", "a-h2");
    EXPECT_EQ(r.value("state", ""), "succeeded") << r.dump(1);
  }

  {
    SCOPED_TRACE("forged heartbeats are refused");
    int port = routers_[1]->port();
    auto refused_before = router_cluster(port)["router"].value("heartbeats_refused", 0);
    auto now = system_clock{}.now();
    auto forged = heartbeat_of("evil", "dc-a", 1, "http://127.0.0.1:1", now, "build");
    EXPECT_EQ(post_heartbeat(port, forged, "a guessed secret"), 401);
    // A heartbeat signed with the secret but sent two minutes ago (a replay of an old one).
    auto old = heartbeat_of("evil", "dc-a", 1, "http://127.0.0.1:1", now - 120'000, "build");
    EXPECT_EQ(post_heartbeat(port, old, secret), 401);
    EXPECT_EQ(http_call(port, "POST", "/v1/heartbeats", cluster::encode(forged)).status, 401)
        << "unsigned";
    EXPECT_TRUE(node_view(port, "evil").is_null());
    EXPECT_EQ(router_cluster(port)["router"].value("heartbeats_refused", 0), refused_before + 3);
    // A recent one sent again as it was: the router keeps only newer heartbeats of a node.
    auto once = heartbeat_of("replayed", "dc-x", 9, "http://127.0.0.1:1", now, "all");
    EXPECT_EQ(post_heartbeat(port, once, secret), 204);
    EXPECT_EQ(post_heartbeat(port, once, secret), 409);
    EXPECT_EQ(live_nodes(port), 4) << router_cluster(port);
  }

  {
    SCOPED_TRACE("the nodes see the original client, through HAProxy and a router");
    auto submit_from = [&](const std::string& from, int port, const std::string& host,
                           const std::string& extra) {
      return http_call_from(from, port, "POST", "/v1/requests",
                            json{{"action", "power_on"}, {"host", host}}.dump(),
                            "Idempotency-Key: from-" + from + "\r\n" + extra);
    };
    // HAProxy (trusted by the routers) names the client; the router (trusted by the nodes)
    // passes it on.
    auto a = submit_from("127.0.0.9", lb_->port(), "b-h1", "");
    EXPECT_EQ(a.status, 202) << a.body;
    // A peer the router does not trust cannot name another client: its header is replaced.
    auto b =
        submit_from("127.0.0.10", routers_[1]->port(), "a-h1", "X-Forwarded-For: 10.6.6.6\r\n");
    EXPECT_EQ(b.status, 202) << b.body;
    // Each site's audit trail records the submission under the client's own address.
    auto sources = [&](const std::string& node) {
      std::multiset<std::string> out;
      auto j = json::parse(direct(node, "GET", "/v1/audit?limit=1000").body, nullptr, false);
      if (j.is_object())
        for (const auto& e : j.value("entries", json::array()))
          if (e.value("action", "").rfind("POST /v1/requests", 0) == 0)
            out.insert(e.value("source", ""));
      return out;
    };
    auto shown = [&](const std::string& node) {
      std::string out;
      for (const auto& s : sources(node)) out += s + " ";
      return out;
    };
    EXPECT_TRUE(wait_until([&] { return sources("b1").count("127.0.0.9") == 1; })) << shown("b1");
    EXPECT_TRUE(wait_until([&] { return sources("a1").count("127.0.0.10") == 1; })) << shown("a1");
    EXPECT_EQ(sources("a1").count("10.6.6.6"), 0u);
    EXPECT_EQ(sources("b1").count("10.6.6.6"), 0u);
  }
}

}  // namespace
}  // namespace ab::testing
