// HAProxy (the sample config, deploy/haproxy/haproxy.cfg) in front of two ab-router processes,
// which route to ab-node processes of two sites (SQLite, a database per site). A client loop
// calls through HAProxy while one router is killed: no call fails, HAProxy takes the killed
// router out, and once restarted it is used again. Heartbeats are sent by the test to both
// routers, signed with the deployment's secret, as the nodes' sender does.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "harness/haproxy_process.hpp"
#include "tests/fakes/call_loop.hpp"
#include "tests/fakes/cluster_fixture.hpp"
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
    secret_file_ = write_secret_file(dir_, secret);
    ::setenv("AB_BMC_LB", "admin:password", 1);
    for (int i = 0; i < 2; ++i) start(i, 0);
    nodes_ = std::make_unique<announced_nodes>(dir_, secret, [this] {
      std::lock_guard<std::mutex> guard{mutex_};
      return std::vector<int>{router_ports_[0], router_ports_[1]};
    });
    ASSERT_TRUE(nodes_->start("n1", "dc1", 0));
    ASSERT_TRUE(nodes_->start("n2", "dc2", 1));
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(wait_until([&] { return live_nodes(router_port(i)) == 2; }))
          << router_cluster(router_port(i)).dump();
    lb_ = start_haproxy(dir_, address(0), address(1));
    ASSERT_TRUE(lb_);
    auto reg = call("POST", "/v1/hosts",
                    R"({"hosts":[
                      {"name":"a1","site":"dc1","bmc_endpoint":"https://192.0.2.11","credential_ref":"env:AB_BMC_LB"},
                      {"name":"b1","site":"dc2","bmc_endpoint":"https://192.0.2.21","credential_ref":"env:AB_BMC_LB"}]})");
    ASSERT_EQ(reg.status, 201) << reg.body;
  }

  void TearDown() override {
    if (nodes_) nodes_->stop_beating();
    if (lb_) {
      EXPECT_EQ(lb_->stop(), 0) << lb_->output();
    }
    for (auto& r : routers_)
      if (r) r->kill();
    nodes_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  /// Router `i` on `port` (0: a free one, the first time).
  void start(int i, int port) {
    auto p = start_router(secret_file_, dir_ / ("router" + std::to_string(i) + ".log"),
                          {"--freshness-ms", "3000"}, port);
    ASSERT_TRUE(p->ok()) << p->output();
    std::lock_guard<std::mutex> guard{mutex_};
    router_ports_[i] = p->port();
    routers_[i] = std::move(p);
  }

  int router_port(int i) {
    std::lock_guard<std::mutex> guard{mutex_};
    return router_ports_[i];
  }
  std::string address(int i) { return "127.0.0.1:" + std::to_string(router_port(i)); }

  /// Sessions HAProxy sent to `server` so far (`stot` of `show stat`).
  long sessions_of(const std::string& server) {
    auto n = lb_->server_field("routers", server, "stot");
    return n.empty() ? -1 : std::stol(n);
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(lb_->port(), method, path, body, headers);
  }

  std::filesystem::path dir_;
  std::string secret_file_;
  std::unique_ptr<harness::server_process> routers_[2];
  int router_ports_[2] = {0, 0};
  std::unique_ptr<harness::haproxy_process> lb_;
  std::mutex mutex_;
  std::unique_ptr<announced_nodes> nodes_;
};

TEST_F(LoadBalancer, AKilledRouterIsTakenOutNoCallFailsAndARestartedOneIsUsedAgain) {
  // Clients calling through HAProxy without pause: reads of both sites' hosts, and
  // submissions that carry an idempotency key.
  std::mutex ids_mutex;
  std::map<std::string, std::set<std::int64_t>> ids;
  call_loop clients{4, [&](int, long i) -> std::string {
                      switch (i % 3) {
                        case 0:
                        case 1: {
                          auto host = i % 3 ? std::string{"b1"} : std::string{"a1"};
                          auto r = call("GET", "/v1/hosts/" + host);
                          return r.status == 200 ? ""
                                                 : "GET /v1/hosts/" + host + " -> " +
                                                       std::to_string(r.status) + " " + r.body;
                        }
                        default: {
                          // One key per host, sent again and again: each answer is that one
                          // request (the node answers a repeated key with the request it
                          // made), never a second one, also when HAProxy sent the call again
                          // after a router died with it.
                          auto host = (i / 3) % 2 ? std::string{"a1"} : std::string{"b1"};
                          auto got = submit_keyed(lb_->port(), "discover", host, "lb-" + host);
                          std::lock_guard<std::mutex> guard{ids_mutex};
                          if (got.id) ids[host].insert(got.id);
                          return got.failure;
                        }
                      }
                    }};

  // Both routers take calls.
  EXPECT_TRUE(clients.wait_calls(100));
  EXPECT_GT(sessions_of("router1"), 0) << lb_->admin("show stat");
  EXPECT_GT(sessions_of("router2"), 0) << lb_->admin("show stat");

  // Router 1 dies: HAProxy takes it out, and the calls keep succeeding through router 2.
  int port = router_port(0);
  routers_[0]->kill();
  EXPECT_TRUE(wait_until([&] {
    return lb_->server_status("routers", "router1").rfind("DOWN", 0) == 0;
  })) << lb_->admin("show stat");
  EXPECT_TRUE(clients.wait_calls(100));
  long while_down = sessions_of("router1");
  EXPECT_TRUE(clients.wait_calls(100));
  EXPECT_EQ(sessions_of("router1"), while_down) << "a router that is down gets no call";

  // Restarted on its address, it is back in and used again.
  start(0, port);
  EXPECT_TRUE(wait_until([&] { return lb_->server_status("routers", "router1") == "UP"; }))
      << lb_->admin("show stat");
  EXPECT_TRUE(wait_until([&] { return live_nodes(router_port(0)) == 2; }));
  long back = sessions_of("router1");
  EXPECT_TRUE(clients.wait_calls(200));
  EXPECT_GT(sessions_of("router1"), back) << lb_->admin("show stat");

  auto failures = clients.stop();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << clients.calls()
                                << " calls failed, first: " << failures.front();
  std::lock_guard<std::mutex> guard{ids_mutex};
  for (const auto* host : {"a1", "b1"}) EXPECT_EQ(ids[host].size(), 1u) << host;
  RecordProperty("calls", std::to_string(clients.calls()));
}

}  // namespace
}  // namespace ab::testing
