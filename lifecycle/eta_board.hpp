#pragma once

// The site's turnaround estimates, served from summaries of the store refreshed at most once a
// `refresh_ms`: every GET costs at most one indexed count (a queued request's place in the
// claim order), and a running request's estimate costs none. The same summaries (one
// `eta_store::overview` per refresh) feed the node's queue gauges.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "lifecycle/eta.hpp"
#include "storage/eta_store.hpp"

namespace ab::lifecycle {

/// What an `eta_board` reads and how it estimates.
struct eta_board_options {
  /// The node's site: the estimates cover its requests only.
  std::string site;
  /// The queue's head start of each priority class (storage::queue_policy::class_credit_ms).
  std::map<std::string, time_ms> class_credit_ms{
      {"maas", 30 * 60 * 1000}, {"user", 10 * 60 * 1000}, {"organic", 0}};
  /// The job types `queue()` reports on (the workflows' types by default).
  std::vector<std::string> job_types;
  /// The summaries are read again when older than this.
  time_ms refresh_ms = 1000;
  /// The history the durations and the concurrency come from: requests finished within this
  /// window, the last `history_runs` of each action.
  time_ms history_ms = 15 * 60 * 1000;
  std::size_t history_runs = 200;
  /// A request's duration when the site finished none of its action recently.
  time_ms assumed_ms = 10 * 60 * 1000;
  /// A running request with no progress for this long counts as stuck in `overview()` (the
  /// node's stuck_after_ms).
  time_ms stuck_after_ms = 30 * 60 * 1000;
};

/// One line of the site's queue: ready jobs of a type, action and class.
struct queue_line {
  std::string job_type;
  std::string action;
  std::string priority_class;
  std::int64_t depth = 0;
  time_ms oldest_wait_ms = 0;
  /// Jobs of the type, action and class done per minute over the last minute.
  double completed_per_min = 0;
};

/// The site's estimates. Thread-safe: the API's store actors and the node's metrics share it.
class eta_board {
 public:
  eta_board(std::shared_ptr<storage::eta_store> store, std::shared_ptr<const ab::clock> clk,
            eta_board_options options);

  /// The estimate of an unfinished request of the board's site; none for a terminal one, one
  /// of another site, or when the store cannot answer.
  std::optional<estimate> estimate_of(const storage::request_view& r);

  /// Estimates of `count` requests of `action` and `priority_class` submitted now, one after
  /// another in the claim order (a bulk submission); empty when the store cannot answer.
  std::vector<estimate> estimate_new(const std::string& action, const std::string& priority_class,
                                     std::size_t count);

  /// Reads the store again if the last read is older than `refresh_ms` (or `force`); false
  /// when the store failed (the last summaries stay).
  bool refresh(bool force = false);

  /// The site's queue, as of the last refresh.
  std::vector<queue_line> queue();

  /// The site's queue as the store gave it at the last refresh (every job type, active requests
  /// with the stuck ones counted), when that refresh read it; none after a failed one.
  std::optional<storage::queue_overview> overview();

  /// The outlook of each action with work or history, as of the last refresh.
  std::map<std::string, action_outlook> outlooks();

  /// Requests finished since the last call (each once, oldest first).
  std::vector<storage::finished_sample> take_finished();

  /// The options it was made with.
  const eta_board_options& options() const { return options_; }

 private:
  /// `refresh` with `mutex_` held.
  bool refresh_locked(time_ms now, bool force);
  action_outlook outlook_locked(const std::string& action) const;

  std::shared_ptr<storage::eta_store> store_;
  std::shared_ptr<const ab::clock> clock_;
  eta_board_options options_;
  std::mutex mutex_;
  time_ms refreshed_at_ = 0;
  /// Finishes seen: the latest finish time, and the ids finished in the last few seconds
  /// before it (a finish committed late with an earlier time is read again and skipped).
  time_ms seen_until_ = 0;
  std::set<std::pair<time_ms, storage::request_id>> recent_ids_;
  /// Start and finish of each action's recent successful runs, oldest first.
  std::map<std::string, std::deque<std::pair<time_ms, time_ms>>> runs_;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> active_;  // queued, running
  std::vector<queue_line> queue_;
  /// The jobs done in the last minute by type, class and action, per second they finished in;
  /// each refresh reads only the seconds since its predecessor's (and a few before: a
  /// completion may commit a little after the time it carries). Until when they were read (0:
  /// never: the next refresh reads the whole minute).
  std::map<std::tuple<std::string, std::string, std::string>, std::map<time_ms, std::int64_t>>
      done_window_;
  time_ms done_read_at_ = 0;
  /// What the last refresh read of the queue; none when it failed.
  std::optional<storage::queue_overview> overview_;
  std::vector<storage::finished_sample> unclaimed_;
};

}  // namespace ab::lifecycle
