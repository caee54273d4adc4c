#pragma once

// The node's queue gauges, set from one store query every few seconds (not per scrape).

#include <cstdint>
#include <string>
#include <vector>

namespace ab::metrics {

/// Ready jobs of one cluster, job type and priority class.
struct queue_gauge_row {
  std::string cluster;
  std::string job_type;
  std::string priority_class;
  std::int64_t depth = 0;
  double oldest_wait_seconds = 0;
};

/// Active requests of one action.
struct active_gauge_row {
  std::string action;
  std::int64_t count = 0;
};

/// Sets `ab_queue_depth`, `ab_queue_oldest_wait_seconds`, `ab_requests_active` and
/// `ab_requests_stuck` of `site` to what was read; a series seen before and absent now is set
/// to 0 (an emptied queue shows 0, not a gap). Thread-safe.
void publish_queue(const std::string& site, const std::vector<queue_gauge_row>& queues,
                   const std::vector<active_gauge_row>& active, std::int64_t stuck);

}  // namespace ab::metrics
