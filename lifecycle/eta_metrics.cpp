#include "lifecycle/eta_metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "metrics/metrics.hpp"

namespace ab::lifecycle {

namespace {

prometheus::Family<prometheus::Histogram>& error_family() {
  static auto& f = prometheus::BuildHistogram()
                       .Name("ab_eta_relative_error")
                       .Help(
                           "How far off the completion estimated at submission was: |estimate "
                           "- completion| / duration from submission, per action")
                       .Register(metrics::registry());
  return f;
}

prometheus::Family<prometheus::Gauge>& eta_family() {
  static auto& f = prometheus::BuildGauge()
                       .Name("ab_eta_seconds")
                       .Help(
                           "Estimated seconds until a request queued now behind the cluster's "
                           "queue would be done")
                       .Register(metrics::registry());
  return f;
}

const prometheus::Histogram::BucketBoundaries& error_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5};
  return b;
}

}  // namespace

std::optional<double> relative_error(const storage::finished_sample& f) {
  auto duration = f.finished_at - f.created_at;
  if (f.eta_at <= 0 || duration <= 0) return std::nullopt;
  return std::abs(static_cast<double>(f.eta_at - f.finished_at)) / static_cast<double>(duration);
}

eta_metrics::eta_metrics(std::shared_ptr<eta_board> board, std::string owner_prefix,
                         std::function<std::string(const std::string&)> cluster_of,
                         time_ms interval_ms)
    : board_(std::move(board)),
      owner_prefix_(std::move(owner_prefix)),
      cluster_of_(std::move(cluster_of)),
      interval_ms_(interval_ms) {
  // Registered at start, so that the families are in /metrics before the first finish.
  error_family();
  eta_family();
  if (interval_ms_ <= 0) return;
  thread_ = std::thread{[this] {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!stopping_) {
      lock.unlock();
      update();
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds{interval_ms_}, [this] { return stopping_; });
    }
  }};
}

eta_metrics::~eta_metrics() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void eta_metrics::update() {
  if (!board_->refresh()) return;
  for (const auto& f : board_->take_finished()) {
    if (f.state != storage::request_state::succeeded) continue;
    if (f.last_owner.compare(0, owner_prefix_.size(), owner_prefix_) != 0) continue;
    if (auto e = relative_error(f))
      error_family().Add({{"action", f.action}}, error_buckets()).Observe(*e);
  }
  const auto& site = board_->options().site;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  // The longest queue of each cluster's actions sets its gauge; a cluster whose queue
  // emptied goes back to 0.
  std::map<std::string, double> by_cluster;
  for (const auto& [action, o] : board_->outlooks()) {
    auto cluster = cluster_of_ ? cluster_of_(action) : std::string{};
    auto& slot = by_cluster[cluster];
    if (o.queued > 0)
      slot = std::max(slot, drain_time(o, now, board_->options().assumed_ms) / 1000.0);
  }
  for (const auto& [cluster, seconds] : by_cluster)
    eta_family().Add({{"site", site}, {"cluster", cluster}}).Set(seconds);
}

}  // namespace ab::lifecycle
