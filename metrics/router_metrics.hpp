#pragma once

// The router's metrics: heartbeats by outcome, the node table (heartbeat age, nodes by state),
// proxied calls per site with their latency, failovers.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace ab::metrics {

/// What became of a heartbeat.
enum class heartbeat_outcome {
  /// Verified and newer than the node's last.
  accepted,
  /// No or a wrong signature.
  bad_signature,
  /// Its time is too far from the router's.
  stale,
  /// Not newer than the node's last (or its site id is another site's).
  replay,
  /// Not a well-formed heartbeat.
  invalid,
};

/// One node of the router's table, for `publish_nodes`.
struct router_node_row {
  std::string site;
  std::string cluster;
  std::string node;
  double heartbeat_age_seconds = 0;
  /// fresh, stale, set_aside, draining or incompatible (`node_status::health`).
  std::string state;
};

/// The series of one site (found once per call by a lookup without building strings).
struct router_site_series {
  prometheus::Counter* by_class[4] = {};  // 2xx, 3xx, 4xx, 5xx
  prometheus::Histogram* duration = nullptr;
  prometheus::Counter* failovers = nullptr;

  /// Counts a call answered with `status` (anything below 200 counts as 5xx) after `seconds`.
  void proxied(int status, double seconds);
};

/// The router's families in `registry()`. Thread-safe.
class router_metrics {
 public:
  router_metrics();

  void heartbeat(heartbeat_outcome how) { heartbeats_[static_cast<int>(how)]->Increment(); }

  /// The series of `site`, made at its first call.
  router_site_series& site(const std::string& site);

  /// Sets `ab_router_node_heartbeat_age_seconds` and `ab_router_nodes` to the table as it is;
  /// nodes gone from it lose their series, states without nodes show 0.
  void publish_nodes(const std::vector<router_node_row>& nodes);

 private:
  prometheus::Counter* heartbeats_[5] = {};
  prometheus::Family<prometheus::Counter>& proxied_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Family<prometheus::Gauge>& ages_;
  prometheus::Family<prometheus::Gauge>& nodes_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<router_site_series>, std::less<>> sites_;
  std::vector<prometheus::Gauge*> age_series_;
  std::vector<prometheus::Gauge*> node_series_;
};

}  // namespace ab::metrics
