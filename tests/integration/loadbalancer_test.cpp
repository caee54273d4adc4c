// HAProxy (the sample config, deploy/haproxy/haproxy.cfg) in front of two ab-router processes,
// which route to ab-node processes of two sites (SQLite, a database per site). A client loop
// calls through HAProxy while one router is killed: no call fails, HAProxy takes the killed
// router out, and once restarted it is used again. Heartbeats are sent by the test to both
// routers, signed with the deployment's secret, as the nodes' sender does.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/heartbeat.hpp"
#include "core/clock.hpp"
#include "harness/haproxy_process.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

constexpr const char* secret = "loadbalancer-test-secret";

TEST(HaproxyConfig, OnlyTheNamedVariablesAreReplacedWithOrWithoutADefault) {
  EXPECT_EQ(harness::render_haproxy_config(
                R"(bind "${AB_LB_BIND-:8080}" x ${AB_ROUTER1} "${OTHER-1}" ${AB_ROUTER2-a-b})",
                {{"AB_LB_BIND", "127.0.0.1:1"}, {"AB_ROUTER1", "r1"}, {"AB_ROUTER2", "r2"}}),
            R"(bind "127.0.0.1:1" x r1 "${OTHER-1}" r2)");
  EXPECT_EQ(harness::render_haproxy_config("no variables ${", {{"X", "y"}}), "no variables ${");
}

class LoadBalancer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_lb_");
    { std::ofstream{dir_ / "hb.secret"} << secret << "\n"; }
    ::chmod((dir_ / "hb.secret").c_str(), 0600);
    ::setenv("AB_BMC_LB", "admin:password", 1);
    for (int i = 0; i < 2; ++i) start_router(i, 0);
    start_node("n1", "dc1", 0);
    start_node("n2", "dc2", 1);
    beater_ = std::thread([this] {
      while (!stop_) {
        beat_all();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(wait_until([&] { return live_nodes(i) == 2; }))
          << http_call(router_port(i), "GET", "/v1/cluster").body;
    lb_ = std::make_unique<harness::haproxy_process>(
        std::string{AB_SOURCE_DIR} + "/deploy/haproxy/haproxy.cfg",
        std::map<std::string, std::string>{{"AB_ROUTER1", address(0)}, {"AB_ROUTER2", address(1)}},
        dir_.string());
    ASSERT_TRUE(lb_->ok()) << lb_->output();
    for (const auto* r : {"router1", "router2"})
      ASSERT_TRUE(wait_until([&] { return lb_->server_status("routers", r) == "UP"; }))
          << lb_->admin("show stat");
    auto reg = call("POST", "/v1/hosts",
                    R"({"hosts":[
                      {"name":"a1","site":"dc1","bmc_endpoint":"https://192.0.2.11","credential_ref":"env:AB_BMC_LB"},
                      {"name":"b1","site":"dc2","bmc_endpoint":"https://192.0.2.21","credential_ref":"env:AB_BMC_LB"}]})");
    ASSERT_EQ(reg.status, 201) << reg.body;
  }

  void TearDown() override {
    stop_ = true;
    if (beater_.joinable()) beater_.join();
    if (lb_) EXPECT_EQ(lb_->stop(), 0) << lb_->output();
    for (auto& r : routers_)
      if (r) r->kill();
    for (auto& [id, n] : nodes_) n.process->kill();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  /// Router `i` on `port` (0: a free one, the first time).
  void start_router(int i, int port) {
    auto p = std::make_unique<harness::server_process>(
        AB_ROUTER_BIN,
        std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port),
                                 "--heartbeat-secret-file", (dir_ / "hb.secret").string(),
                                 "--freshness-ms", "3000"},
        (dir_ / ("router" + std::to_string(i) + ".log")).string());
    ASSERT_TRUE(p->ok()) << p->output();
    std::lock_guard<std::mutex> guard{mutex_};
    router_ports_[i] = p->port();
    routers_[i] = std::move(p);
  }

  void start_node(const std::string& id, const std::string& site, std::int64_t site_id) {
    auto p = std::make_unique<harness::server_process>(
        AB_NODE_BIN,
        std::vector<std::string>{"--node-id", id, "--site", site, "--listen", "127.0.0.1:0",
                                 "--store", "sqlite:" + (dir_ / (site + ".db")).string(),
                                 "--handlers", "none"},
        (dir_ / (id + ".log")).string());
    ASSERT_TRUE(p->ok()) << p->output();
    std::lock_guard<std::mutex> guard{mutex_};
    auto& n = nodes_[id];
    n.id = id;
    n.site = site;
    n.site_id = site_id;
    n.port = p->port();
    n.process = std::move(p);
  }

  /// A heartbeat of every node to every router, as the nodes' sender sends them; a router
  /// that is down does not answer, and the next round tries again.
  void beat_all() {
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& [id, n] : nodes_) {
      cluster::heartbeat hb;
      hb.node_id = n.id;
      hb.site = n.site;
      hb.site_id = n.site_id;
      hb.cluster = "all";
      hb.api_url = "http://127.0.0.1:" + std::to_string(n.port);
      hb.version = "test";
      // Strictly newer than the node's last one, even within one millisecond.
      hb.sent_at_ms = std::max(system_clock{}.now(), last_sent_ + 1);
      last_sent_ = hb.sent_at_ms;
      auto body = cluster::encode(hb);
      for (int port : router_ports_)
        http_call(port, "POST", "/v1/heartbeats", body,
                  "Content-Type: application/json\r\nX-AB-Signature: " +
                      cluster::sign(body, hb.sent_at_ms, secret) + "\r\n");
    }
  }

  int router_port(int i) {
    std::lock_guard<std::mutex> guard{mutex_};
    return router_ports_[i];
  }
  std::string address(int i) { return "127.0.0.1:" + std::to_string(router_port(i)); }

  int live_nodes(int i) {
    auto doc = json::parse(http_call(router_port(i), "GET", "/v1/cluster").body, nullptr, false);
    int n = 0;
    if (doc.is_object())
      for (const auto& site : doc["sites"]) n += site["live_nodes"].get<int>();
    return n;
  }

  /// Sessions HAProxy sent to `server` so far (`stot` of `show stat`).
  long sessions_of(const std::string& server) {
    std::stringstream in{lb_->admin("show stat")};
    std::string line;
    int column = -1;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream fields{line.rfind("# ", 0) == 0 ? line.substr(2) : line};
      for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
      if (line.rfind("# ", 0) == 0) {
        for (std::size_t i = 0; i < f.size(); ++i)
          if (f[i] == "stot") column = static_cast<int>(i);
      } else if (column >= 0 && f.size() > static_cast<std::size_t>(column) && f[0] == "routers" &&
                 f[1] == server) {
        return std::stol(f[static_cast<std::size_t>(column)]);
      }
    }
    return -1;
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(lb_->port(), method, path, body, headers);
  }

  struct node {
    std::string id, site;
    std::int64_t site_id = 0;
    std::unique_ptr<harness::server_process> process;
    int port = 0;
  };

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> routers_[2];
  int router_ports_[2] = {0, 0};
  std::unique_ptr<harness::haproxy_process> lb_;
  std::mutex mutex_;
  std::map<std::string, node> nodes_;
  std::thread beater_;
  std::atomic<bool> stop_{false};
  std::int64_t last_sent_ = 0;
};

TEST_F(LoadBalancer, AKilledRouterIsTakenOutNoCallFailsAndARestartedOneIsUsedAgain) {
  // Clients calling through HAProxy without pause: reads of both sites' hosts, and
  // submissions that carry an idempotency key.
  std::atomic<bool> done{false};
  std::atomic<long> calls{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::map<std::string, std::set<std::int64_t>> ids;
  auto client = [&](int c) {
    for (long i = 0; !done; ++i) {
      http_answer r;
      bool ok = false;
      std::string what;
      switch (i % 3) {
        case 0:
          what = "GET /v1/hosts/a1";
          r = call("GET", "/v1/hosts/a1");
          ok = r.status == 200;
          break;
        case 1:
          what = "GET /v1/hosts/b1";
          r = call("GET", "/v1/hosts/b1");
          ok = r.status == 200;
          break;
        default: {
          // One key per host, sent again and again: each answer is that one request (the
          // node answers a repeated key with the request it made), never a second one, also
          // when HAProxy sent the call again after a router died with it.
          auto host = (i / 3) % 2 ? std::string{"a1"} : std::string{"b1"};
          what = "POST /v1/requests " + host;
          r = call("POST", "/v1/requests", R"({"action":"discover","host":")" + host + R"("})",
                   "Idempotency-Key: lb-" + host + "\r\n");
          ok = r.status == 202 || r.status == 200;
          auto doc = json::parse(r.body, nullptr, false);
          if (ok && doc.is_object() && doc.contains("requests") && !doc["requests"].empty()) {
            std::lock_guard<std::mutex> guard{failures_mutex};
            ids[host].insert(doc["requests"][0].value("id", std::int64_t{0}));
          } else {
            ok = false;
          }
        }
      }
      ++calls;
      if (!ok) {
        std::lock_guard<std::mutex> guard{failures_mutex};
        failures.push_back(what + " -> " + std::to_string(r.status) + " " + r.body);
      }
    }
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) clients.emplace_back(client, c);
  auto wait_calls = [&](long more) {
    long until = calls + more;
    return wait_until([&] { return calls >= until; }, std::chrono::seconds(60));
  };

  // Both routers take calls.
  EXPECT_TRUE(wait_calls(100));
  EXPECT_GT(sessions_of("router1"), 0) << lb_->admin("show stat");
  EXPECT_GT(sessions_of("router2"), 0) << lb_->admin("show stat");

  // Router 1 dies: HAProxy takes it out, and the calls keep succeeding through router 2.
  int port = router_port(0);
  routers_[0]->kill();
  EXPECT_TRUE(wait_until([&] {
    return lb_->server_status("routers", "router1").rfind("DOWN", 0) == 0;
  })) << lb_->admin("show stat");
  EXPECT_TRUE(wait_calls(100));
  long while_down = sessions_of("router1");
  EXPECT_TRUE(wait_calls(100));
  EXPECT_EQ(sessions_of("router1"), while_down) << "a router that is down gets no call";

  // Restarted on its address, it is back in and used again.
  start_router(0, port);
  EXPECT_TRUE(wait_until([&] { return lb_->server_status("routers", "router1") == "UP"; }))
      << lb_->admin("show stat");
  EXPECT_TRUE(wait_until([&] { return live_nodes(0) == 2; }));
  long back = sessions_of("router1");
  EXPECT_TRUE(wait_calls(200));
  EXPECT_GT(sessions_of("router1"), back) << lb_->admin("show stat");

  done = true;
  for (auto& t : clients) t.join();
  std::lock_guard<std::mutex> guard{failures_mutex};
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << calls
                                << " calls failed, first: " << failures.front();
  for (const auto* host : {"a1", "b1"}) EXPECT_EQ(ids[host].size(), 1u) << host;
  RecordProperty("calls", std::to_string(calls.load()));
}

}  // namespace
}  // namespace ab::testing
