#pragma once

// The estimates' metrics: how far off the estimate made at submission was, per action, and
// how long each cluster's queue takes to drain.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "lifecycle/eta_board.hpp"

namespace ab::lifecycle {

/// |estimate at submission − real completion| / real duration (from submission) of a finished
/// request; none when it carries no estimate or took no time.
std::optional<double> relative_error(const storage::finished_sample& f);

/// Keeps `ab_eta_relative_error{action}` (a histogram, observed once for each request that a
/// worker of this node finished: its last job's lease owner starts with `owner_prefix`) and
/// `ab_eta_seconds{site,cluster}` (the estimate of a request queued now behind the cluster's
/// queue, in seconds from now) in `ab::metrics::registry()`, every `interval_ms` on a thread
/// of its own (store reads never run on an actor's or an I/O thread).
class eta_metrics {
 public:
  eta_metrics(std::shared_ptr<eta_board> board, std::string owner_prefix,
              std::function<std::string(const std::string& action)> cluster_of,
              time_ms interval_ms);
  /// Stops the thread.
  ~eta_metrics();
  eta_metrics(const eta_metrics&) = delete;
  eta_metrics& operator=(const eta_metrics&) = delete;

  /// One round: reads the board, observes the finishes, sets the gauges. The thread calls it;
  /// tests call it directly (`interval_ms` 0: no thread).
  void update();

 private:
  std::shared_ptr<eta_board> board_;
  std::string owner_prefix_;
  std::function<std::string(const std::string&)> cluster_of_;
  time_ms interval_ms_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ab::lifecycle
