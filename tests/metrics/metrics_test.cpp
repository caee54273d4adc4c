#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "metrics/detail/process_stats.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/metrics.hpp"
#include "metrics/queue_gauges.hpp"
#include "metrics/router_metrics.hpp"

namespace {

// The value of the sample line `series value` in text, or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(Metrics, TextShowsARegisteredCounterAfterItMoves) {
  auto& family = prometheus::BuildCounter()
                     .Name("ab_test_things_total")
                     .Help("Things counted by the test.")
                     .Register(ab::metrics::registry());
  auto& red = family.Add({{"colour", "red"}});
  red.Increment();
  red.Increment(2);
  auto text = ab::metrics::text();
  EXPECT_NE(text.find("# TYPE ab_test_things_total counter"), std::string::npos);
  EXPECT_EQ(sample(text, "ab_test_things_total{colour=\"red\"}"), 3);
}

TEST(Metrics, TextShowsHistogramBucketsInSeconds) {
  auto& h = prometheus::BuildHistogram()
                .Name("ab_test_wait_seconds")
                .Help("Waits of the test.")
                .Register(ab::metrics::registry())
                .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1});
  h.Observe(0.5);
  auto text = ab::metrics::text();
  EXPECT_EQ(sample(text, "ab_test_wait_seconds_bucket{le=\"0.1\"}"), 0);
  EXPECT_EQ(sample(text, "ab_test_wait_seconds_bucket{le=\"1\"}"), 1);
  EXPECT_EQ(sample(text, "ab_test_wait_seconds_count"), 1);
}

TEST(Metrics, RegistryIsOneForTheWholeProcess) {
  EXPECT_EQ(&ab::metrics::registry(), &ab::metrics::registry());
}

TEST(Metrics, TextCarriesTheProcessCollectorsOfThisProcess) {
  auto text = ab::metrics::text();
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_GE(sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 0);
  EXPECT_GE(sample(text, "process_virtual_memory_bytes"),
            sample(text, "process_resident_memory_bytes"));
  // stdin, stdout and stderr at least.
  EXPECT_GE(sample(text, "process_open_fds"), 3);
  auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  auto start = sample(text, "process_start_time_seconds");
  EXPECT_LE(start, now.count() + 1);
  EXPECT_GT(start, now.count() - 24 * 3600);
}

TEST(HttpMetrics, RoutesArePatternsAndAnythingElseIsOther) {
  ab::metrics::http_metrics m(
      "test-a", {"GET /v1/requests/{id}", "POST /v1/requests/{id}/cancel", "GET /healthz"});
  EXPECT_EQ(m.route_of("GET", "/v1/requests/7"), 0u);
  EXPECT_EQ(m.route_of("POST", "/v1/requests/7/cancel"), 1u);
  EXPECT_EQ(m.route_of("GET", "/healthz"), 2u);
  EXPECT_EQ(m.route_of("GET", "/v1/requests/"), m.other("GET"));
  EXPECT_EQ(m.route_of("POST", "/v1/requests/7"), m.other("POST"));
  EXPECT_EQ(m.route_of("BREW", "/healthz"), m.other("BREW"));
  EXPECT_NE(m.other("GET"), m.other("BREW"));
  m.observe(m.route_of("GET", "/v1/requests/7"), 200, 0.002);
  m.observe(m.route_of("GET", "/v1/requests/8"), 200, 0.002);
  m.observe(m.route_of("BREW", "/pot/42"), 418, 0.001);
  m.reject(ab::metrics::reject_reason::capacity);
  m.connections_changed(2);
  m.connections_changed(-1);
  auto text = ab::metrics::text();
  EXPECT_EQ(
      sample(
          text,
          R"(ab_http_requests_total{method="GET",route="/v1/requests/{id}",server="test-a",status="200"})"),
      2);
  EXPECT_EQ(
      sample(
          text,
          R"(ab_http_requests_total{method="other",route="other",server="test-a",status="418"})"),
      1);
  EXPECT_EQ(sample(text, R"(ab_http_rejected_total{reason="capacity",server="test-a"})"), 1);
  EXPECT_EQ(sample(text, R"(ab_http_rejected_total{reason="rate",server="test-a"})"), 0);
  EXPECT_EQ(sample(text, R"(ab_http_open_connections{server="test-a"})"), 1);
  EXPECT_EQ(text.find("/pot/42"), std::string::npos);
  EXPECT_EQ(text.find("BREW"), std::string::npos);
}

TEST(RouterMetrics, DrainingAndIncompatibleNodesAreCountedByState) {
  ab::metrics::router_metrics m;
  m.publish_nodes({{"zz2", "c1", "n1", 1, "fresh"},
                   {"zz2", "c1", "n2", 1, "incompatible"},
                   {"zz2", "c1", "n3", 1, "draining"}});
  auto text = ab::metrics::text();
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz2",state="fresh"})"), 1);
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz2",state="incompatible"})"), 1);
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz2",state="draining"})"), 1);
  m.publish_nodes({{"zz2", "c1", "n1", 1, "fresh"}});
  text = ab::metrics::text();
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz2",state="incompatible"})"), 0);
}

TEST(RouterMetrics, NodesGoneFromTheTableLoseTheirSeries) {
  ab::metrics::router_metrics m;
  m.publish_nodes({{"zz1", "c1", "n1", 1.5, "fresh"}, {"zz1", "c1", "n2", 9, "stale"}});
  auto text = ab::metrics::text();
  EXPECT_EQ(
      sample(text, R"(ab_router_node_heartbeat_age_seconds{cluster="c1",node="n2",site="zz1"})"),
      9);
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz1",state="fresh"})"), 1);
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz1",state="set_aside"})"), 0);
  m.publish_nodes({{"zz1", "c1", "n1", 0.5, "fresh"}});
  text = ab::metrics::text();
  EXPECT_EQ(
      sample(text, R"(ab_router_node_heartbeat_age_seconds{cluster="c1",node="n2",site="zz1"})"),
      -1);
  EXPECT_EQ(
      sample(text, R"(ab_router_node_heartbeat_age_seconds{cluster="c1",node="n1",site="zz1"})"),
      0.5);
  EXPECT_EQ(sample(text, R"(ab_router_nodes{cluster="c1",site="zz1",state="stale"})"), 0);
  m.site("zz1").proxied(204, 0.01);
  m.site("zz1").proxied(0, 0.01);
  m.heartbeat(ab::metrics::heartbeat_outcome::replay);
  text = ab::metrics::text();
  EXPECT_EQ(sample(text, R"(ab_router_proxied_total{site="zz1",status_class="2xx"})"), 1);
  EXPECT_EQ(sample(text, R"(ab_router_proxied_total{site="zz1",status_class="5xx"})"), 1);
  EXPECT_GE(sample(text, R"(ab_router_heartbeats_total{outcome="replay"})"), 1);
}

TEST(QueueGauges, AQueueThatEmptiedShowsZeroNotAGap) {
  ab::metrics::publish_queue("qq1", {{"c1", "power", "user", 3, 12.5}}, {{"reimage", 4}}, 1);
  auto text = ab::metrics::text();
  EXPECT_EQ(
      sample(text, R"(ab_queue_depth{class="user",cluster="c1",job_type="power",site="qq1"})"), 3);
  EXPECT_EQ(
      sample(
          text,
          R"(ab_queue_oldest_wait_seconds{class="user",cluster="c1",job_type="power",site="qq1"})"),
      12.5);
  EXPECT_EQ(sample(text, R"(ab_requests_active{action="reimage",site="qq1"})"), 4);
  EXPECT_EQ(sample(text, R"(ab_requests_stuck{site="qq1"})"), 1);
  ab::metrics::publish_queue("qq1", {}, {}, 0);
  text = ab::metrics::text();
  EXPECT_EQ(
      sample(text, R"(ab_queue_depth{class="user",cluster="c1",job_type="power",site="qq1"})"), 0);
  EXPECT_EQ(sample(text, R"(ab_requests_active{action="reimage",site="qq1"})"), 0);
  EXPECT_EQ(sample(text, R"(ab_requests_stuck{site="qq1"})"), 0);
}

TEST(ProcessStats, ParsesACommandNameWithSpacesAndParentheses) {
  // Fields 3..24 of proc(5): utime 150, stime 50 ticks; starttime 1000 ticks; vsize; rss pages.
  std::string stat =
      "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 4 0 1000 "
      "8192000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  auto s = ab::metrics::detail::parse_stat(stat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 2.0);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 8192000);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 300.0 * 4096);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'010);
}

TEST(ProcessStats, RejectsTruncatedOrGarbledStat) {
  using ab::metrics::detail::parse_stat;
  EXPECT_FALSE(parse_stat("", 100, 4096, 0));
  EXPECT_FALSE(parse_stat("42 (x) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(
      parse_stat("42 (x) S 1 42 42 0 -1 0 0 0 0 0 1x 50 0 0 20 0 4 0 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(parse_stat("42 x S 1 42 42 0 -1 0 0 0 0 0 1 50 0 0 20 0 4 0 1 2 3", 100, 4096, 0));
}

TEST(ProcessStats, ReadsBootTimeFromProcStat) {
  using ab::metrics::detail::parse_boot_time;
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764630000\nprocesses 9\n"), 1764630000);
  EXPECT_FALSE(parse_boot_time("cpu  1 2 3\n"));
  EXPECT_FALSE(parse_boot_time("btime soon\n"));
}

}  // namespace
