#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "metrics/detail/process_stats.hpp"
#include "metrics/metrics.hpp"

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
