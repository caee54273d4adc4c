// GET /metrics on a node's API: who may read it (the policy's metrics.read), and that the
// series move with the work done through the API.

#include <filesystem>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "metrics/metrics.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/metrics/sample.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {
namespace {

const std::string bearer_scraper = "Authorization: Bearer scrape-token\r\n";
const std::string bearer_ops = "Authorization: Bearer ops-token\r\n";

std::string policy_text() {
  return R"({
    "accounts": {
      "prometheus": {"token_sha256": ")" +
         auth::sha256_hex("scrape-token") + R"(", "roles": ["scraper"]},
      "ops": {"token_sha256": ")" +
         auth::sha256_hex("ops-token") + R"(", "roles": ["operator"]}
    },
    "roles": {
      "scraper": [{"actions": ["metrics.read"]}],
      "operator": [{"actions": ["reimage", "cancel", "read", "hosts.write"], "classes": ["user"]}]
    }
  })";
}

class ApiMetrics : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-metrics-");
    auto a = auth::authenticator::open(policy_options(dir_, policy_text()));
    ASSERT_TRUE(a) << message_of(a.error());
    auth_ = std::move(*a);
    start(2, 64, [this](net::api_options& opts) { opts.auth = auth_; });
  }
  void TearDown() override {
    Api::TearDown();
    std::filesystem::remove_all(dir_);
  }

  /// /metrics as the scraper reads it.
  std::string scrape() {
    auto r = call("GET", "/metrics", "", bearer_scraper);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  std::filesystem::path dir_;
  std::shared_ptr<auth::authenticator> auth_;
};

}  // namespace

TEST_F(ApiMetrics, MetricsNeedsMetricsReadNotJustAnyAccount) {
  EXPECT_EQ(call("GET", "/metrics").status, 401);
  EXPECT_EQ(call("GET", "/metrics", "", "Authorization: Bearer wrong\r\n").status, 401);
  auto r = call("GET", "/metrics", "", bearer_ops);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body.find("ab_requests_submitted_total"), std::string::npos);
  auto ok = call("GET", "/metrics", "", bearer_scraper);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.headers.find(std::string{"Content-Type: "} + metrics::content_type),
            std::string::npos)
      << ok.headers;
  EXPECT_NE(ok.body.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  // The scraper's grant is metrics.read alone: it reads nothing else.
  EXPECT_EQ(call("GET", "/v1/requests", "", bearer_scraper).status, 403);
}

TEST_F(ApiMetrics, SubmittedAndCancelledRequestsMoveTheirCounters) {
  register_hosts({"web-1"}, "dc1", bearer_ops);
  const std::string submitted = R"(ab_requests_submitted_total{action="reimage",class="user"})";
  const std::string cancelled =
      R"(ab_requests_finished_total{action="reimage",class="user",state="cancelled"})";
  auto before = scrape();
  auto r = call("POST", "/v1/requests", R"({"action":"reimage","host":"web-1","priority":"user"})",
                bearer_ops);
  ASSERT_EQ(r.status, 202) << r.body;
  auto id = json::parse(r.body)["requests"][0]["id"].get<std::int64_t>();
  auto after_submit = scrape();
  EXPECT_EQ(count_of(after_submit, submitted), count_of(before, submitted) + 1);
  // A refused submission (the host is busy) stores nothing and counts nothing.
  EXPECT_EQ(
      call("POST", "/v1/requests", R"({"action":"reimage","host":"web-1"})", bearer_ops).status,
      409);
  EXPECT_EQ(count_of(scrape(), submitted), count_of(before, submitted) + 1);
  ASSERT_EQ(call("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "", bearer_ops).status,
            200);
  EXPECT_EQ(count_of(scrape(), cancelled), count_of(before, cancelled) + 1);
}

TEST_F(ApiMetrics, HttpRequestsAreCountedByRoutePatternNeverByRawPath) {
  call("GET", "/v1/requests/12345", "", bearer_ops);
  call("GET", "/no/such/thing-987", "", bearer_ops);
  auto text = scrape();
  EXPECT_GE(
      count_of(
          text,
          R"(ab_http_requests_total{method="GET",route="/v1/requests/{id}",server="node",status="404"})"),
      1)
      << text;
  EXPECT_GE(
      count_of(text,
               R"(ab_http_requests_total{method="GET",route="other",server="node",status="404"})"),
      1);
  EXPECT_EQ(text.find("12345"), std::string::npos);
  EXPECT_EQ(text.find("thing-987"), std::string::npos);
  EXPECT_GE(
      count_of(
          text,
          R"(ab_http_request_duration_seconds_count{method="GET",route="/v1/requests/{id}",server="node"})"),
      1);
}

}  // namespace ab::testing
