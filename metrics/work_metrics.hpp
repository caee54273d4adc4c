#pragma once

// The node's work metrics: requests submitted and finished, jobs by type (claims, retries,
// durations, worker restarts), straggler recoveries, and the queue gauges a collector sets.

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace ab::metrics {

/// How a job attempt ended, for `ab_job_duration_seconds{outcome}`.
enum class job_outcome { ok, failed, retried };

/// The metrics of one job type, found once (by the pool of that type) and then bumped without
/// a lookup.
struct job_type_metrics {
  prometheus::Counter& claims;
  prometheus::Counter& retries;
  prometheus::Counter& worker_restarts;
  prometheus::Histogram& ok;
  prometheus::Histogram& failed;
  prometheus::Histogram& retried;

  /// Observes one attempt's duration under its outcome.
  void attempt(job_outcome how, double seconds) {
    (how == job_outcome::ok ? ok : how == job_outcome::failed ? failed : retried).Observe(seconds);
  }

  /// The metrics of `type` in `registry()`; the same object for the same type.
  static job_type_metrics& of(const std::string& type);
};

/// Counters labelled by (action, class[, state]) from small fixed sets, found by a lookup under
/// a lock without building strings (once per request, not per byte or per job step).
class request_counters {
 public:
  /// `ab_requests_submitted_total{action,class}`.
  static void submitted(std::string_view action, std::string_view cls, double n = 1);
  /// `ab_requests_finished_total{action,class,state}`; state succeeded, failed or cancelled.
  static void finished(std::string_view action, std::string_view cls, std::string_view state);
};

/// `ab_straggler_recoveries_total`: jobs whose lease or deadline passed, taken back by
/// recovery (retried or failed).
prometheus::Counter& straggler_recoveries();

/// Sets `ab_build_info{component,version}` to 1.
void set_build_info(const std::string& component, const std::string& version);

/// Sets `ab_node_info{node,site,cluster}` to 1; a call with another cluster (the node moved)
/// removes the previous series.
void set_node_info(const std::string& node, const std::string& site, const std::string& cluster);

}  // namespace ab::metrics
