#pragma once

// The BMC metrics of one driver: calls by operation and outcome with their latency, and the
// breakers (shared by every driver of the process).

#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace ab::metrics {

/// The BMC operations, as the capability interfaces name them.
enum class bmc_operation { power, set_power, set_boot, set_media, read_inventory, erase_disks };

/// How a BMC call ended: `unavailable` is a BMC that did not answer, `refused` a call the guard
/// did not make (open breaker, no turn in time), `failed` any other error.
enum class bmc_outcome { ok, failed, unavailable, refused };

/// The series of one driver (label `driver`), made at construction: bumped without lookups.
class bmc_metrics {
 public:
  explicit bmc_metrics(const std::string& driver);

  /// Counts a call and, unless refused, observes its duration.
  void call(bmc_operation op, bmc_outcome how, double seconds);

  /// `ab_bmc_breakers_open`: BMCs whose breaker is open now (or half-open).
  static prometheus::Gauge& breakers_open();
  /// `ab_bmc_breaker_opened_total`: breakers that opened.
  static prometheus::Counter& breaker_opened();

 private:
  static constexpr int operations = 6, outcomes = 4;
  prometheus::Counter* calls_[operations][outcomes] = {};
  prometheus::Histogram* durations_[operations] = {};
};

}  // namespace ab::metrics
