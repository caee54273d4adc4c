// /metrics of a real ab-router and ab-node on loopback: the router's bearer token (reread on
// SIGHUP, and 404 without the option), series that show the work done, and Debian's
// `promtool check metrics` on both outputs, which must find nothing.

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/fakes/cluster_fixture.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"
#include "tests/metrics/sample.hpp"

namespace ab::testing {
namespace {

constexpr const char* secret = "metrics-test-secret";
constexpr const char* token = "metrics-test-scraper-token";
const std::string bearer = std::string{"Authorization: Bearer "} + token + "\r\n";

/// What `promtool check metrics` says of `text` (its stdin), with its exit status.
std::string promtool_findings(const std::filesystem::path& dir, const std::string& text) {
  auto in = dir / "metrics.txt";
  std::ofstream(in) << text;
  auto cmd = "promtool check metrics < '" + in.string() + "' 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "promtool did not start";
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  if (status != 0) out += "\n(promtool exit status " + std::to_string(status) + ")";
  return out;
}

class MetricsProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_metrics_proc_");
    ::setenv("AB_BMC_M", "admin:password", 1);
    secret_file_ = write_secret_file(dir_, secret);
    token_file_ = write_secret_file(dir_, token, "metrics.token");
    router_ =
        start_router(secret_file_, dir_ / "router.log", {"--metrics-token-file", token_file_});
    ASSERT_TRUE(router_->ok()) << router_->output();
    nodes_ = std::make_unique<announced_nodes>(
        dir_, secret, [port = router_->port()] { return std::vector<int>{port}; });
    ASSERT_TRUE(nodes_->start("n1", "dc1", 0));
    ASSERT_TRUE(wait_until([&] { return live_nodes(router_->port()) == 1; }));
  }
  void TearDown() override {
    nodes_.reset();
    if (router_) {
      EXPECT_EQ(router_->terminate(), 0) << router_->output();
    }
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::string secret_file_, token_file_;
  std::unique_ptr<harness::server_process> router_;
  std::unique_ptr<announced_nodes> nodes_;
};

}  // namespace

TEST_F(MetricsProcess, TheRouterServesMetricsOnlyToItsScraperToken) {
  auto port = router_->port();
  EXPECT_EQ(http_call(port, "GET", "/metrics").status, 401);
  EXPECT_EQ(http_call(port, "GET", "/metrics", "", "Authorization: Bearer nope\r\n").status, 401);
  EXPECT_EQ(http_call(port, "GET", "/metrics", "", "Authorization: Basic bWU6cHc=\r\n").status,
            401);
  auto r = http_call(port, "GET", "/metrics", "", bearer);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GE(sample(r.body, R"(ab_router_heartbeats_total{outcome="accepted"})"), 1) << r.body;
  EXPECT_EQ(sample(r.body, R"(ab_router_nodes{cluster="all",site="dc1",state="fresh"})"), 1);
  EXPECT_GE(
      sample(r.body, R"(ab_router_node_heartbeat_age_seconds{cluster="all",node="n1",site="dc1"})"),
      0);
  EXPECT_EQ(sample(r.body, R"(ab_build_info{component="router",version=")" AB_TEST_VERSION R"("})"),
            1);
}

TEST_F(MetricsProcess, OnSighupTheRouterAsksForTheRotatedToken) {
  auto port = router_->port();
  ASSERT_EQ(http_call(port, "GET", "/metrics", "", bearer).status, 200);
  write_secret_file(dir_, "metrics-test-rotated-token", "metrics.token");
  const std::string rotated = "Authorization: Bearer metrics-test-rotated-token\r\n";
  router_->signal(SIGHUP);
  EXPECT_TRUE(
      wait_until([&] { return http_call(port, "GET", "/metrics", "", rotated).status == 200; }));
  EXPECT_EQ(http_call(port, "GET", "/metrics", "", bearer).status, 401);
}

TEST_F(MetricsProcess, ARouterWithoutTheTokenOptionHasNoMetrics) {
  auto plain = start_router(secret_file_, dir_ / "plain.log");
  ASSERT_TRUE(plain->ok()) << plain->output();
  EXPECT_EQ(http_call(plain->port(), "GET", "/metrics", "", bearer).status, 404);
  EXPECT_EQ(plain->terminate(), 0) << plain->output();
}

TEST_F(MetricsProcess, PromtoolFindsNothingInTheMetricsOfANodeAndARouter) {
  auto router = router_->port();
  // Some work through the router first, so that the series of calls, submissions and BMC-less
  // queues exist: a host, a request (no handlers: it stays queued), an unknown path.
  auto hosts = http_call(
      router, "POST", "/v1/hosts",
      R"({"hosts":[{"name":"m1","site":"dc1","bmc_endpoint":"https://192.0.2.31","credential_ref":"env:AB_BMC_M"}]})");
  ASSERT_EQ(hosts.status, 201) << hosts.body;
  auto sub = http_call(router, "POST", "/v1/requests", R"({"action":"power_on","host":"m1"})");
  ASSERT_EQ(sub.status, 202) << sub.body;
  http_call(router, "GET", "/v1/no-such-thing");
  auto node = http_call(nodes_->port("n1"), "GET", "/metrics");
  ASSERT_EQ(node.status, 200) << node.body;
  EXPECT_EQ(sample(node.body, R"(ab_requests_submitted_total{action="power_on",class="user"})"), 1);
  EXPECT_EQ(sample(node.body, R"(ab_node_info{cluster="all",node="n1",site="dc1"})"), 1);
  // The queue gauges come from the database every few seconds.
  ASSERT_TRUE(wait_until([&] {
    auto text = http_call(nodes_->port("n1"), "GET", "/metrics").body;
    return sample(text, R"(ab_requests_active{action="power_on",site="dc1"})") == 1;
  }));
  node = http_call(nodes_->port("n1"), "GET", "/metrics");
  auto r = http_call(router, "GET", "/metrics", "", bearer);
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(sample(r.body, R"(ab_router_proxied_total{site="dc1",status_class="2xx"})"), 2);
  EXPECT_EQ(promtool_findings(dir_, node.body), "") << node.body;
  EXPECT_EQ(promtool_findings(dir_, r.body), "") << r.body;
}

}  // namespace ab::testing
