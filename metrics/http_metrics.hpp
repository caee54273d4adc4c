#pragma once

// The ab_http_* families of one HTTP server: requests by route pattern, method and status with
// their latency, refusals (429) by reason, open connections.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace ab::metrics {

/// Why a server answered 429.
enum class reject_reason {
  /// Its limit of calls in flight.
  capacity,
  /// A rate limit.
  rate,
  /// The client's own limit (too many failed authentications from its address).
  client,
};

/// The `ab_http_*` metrics of one server (label `server`) in `registry()`.
///
/// Routes are fixed at construction ("METHOD /pattern"); what matches none is `other`, under
/// its method when it is a standard one and `other` otherwise. Thread-safe; the hot path
/// (`observe`) takes no lock once a route's status was seen.
class http_metrics {
 public:
  /// Registers (or finds) the families and the series of `server`'s `routes`.
  http_metrics(const std::string& server, const std::vector<std::string>& routes);
  http_metrics(const http_metrics&) = delete;
  http_metrics& operator=(const http_metrics&) = delete;

  /// The index `observe` takes for a call matching none of the routes, by its method.
  std::size_t other(std::string_view method) const;

  /// The index of the route `method` on `path` (no query) matches, a `{param}` matching one
  /// non-empty segment; `other(method)` when none does.
  std::size_t route_of(std::string_view method, std::string_view path) const;

  /// Counts an answered call of route `index` with `status`, taking `seconds`.
  void observe(std::size_t index, int status, double seconds);

  /// Counts a 429 for `why`.
  void reject(reject_reason why);

  /// Adds `delta` to the open connections (`server_options::connections_changed`).
  void connections_changed(int delta) { open_->Increment(delta); }

 private:
  struct route_series {
    std::string pattern;
    std::string method;
    prometheus::Histogram* duration = nullptr;
  };
  static constexpr int first_status = 100, statuses = 900;

  prometheus::Counter& counter(std::size_t index, int status);

  std::string server_;
  prometheus::Family<prometheus::Counter>& requests_;
  std::vector<route_series> routes_;
  std::unique_ptr<std::atomic<prometheus::Counter*>[]> by_status_;
  std::mutex mutex_;
  prometheus::Counter* rejected_[3] = {};
  prometheus::Gauge* open_ = nullptr;
};

/// The standard latency buckets of the `_duration_seconds` histograms, 1 ms to 30 s.
const std::vector<double>& latency_buckets();

}  // namespace ab::metrics
