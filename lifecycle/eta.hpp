#pragma once

// Turnaround estimates: when an unfinished request will be done, and a range, from recent
// measured durations of its action at its site, its place in the claim order and the
// throughput the site's workers show. Pure functions of what they are given; `eta_board`
// (lifecycle/eta_board.hpp) feeds them from the store.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace ab::lifecycle {

/// Quantiles and mean of a sample of durations (milliseconds).
struct duration_stats {
  std::size_t samples = 0;
  time_ms p10 = 0;
  time_ms median = 0;
  time_ms p90 = 0;
  double mean = 0;
};

/// The stats of `durations` (nearest-rank quantiles); all 0 when empty.
duration_stats summarise(std::vector<time_ms> durations);

/// The most of `intervals` (start, end) that overlap at one time: the concurrency the site
/// showed. An interval ends before another that starts at the same time begins.
std::int64_t max_overlap(const std::vector<std::pair<time_ms, time_ms>>& intervals);

/// What the site's recent history and queue say of one action.
struct action_outlook {
  /// Start (first job claimed) to finish of the action's recent successful requests.
  duration_stats run;
  /// Requests of the action running now and queued now.
  std::int64_t running = 0;
  std::int64_t queued = 0;
  /// The most requests of the action seen running at once recently (at least `running`): how
  /// many the site's workers take on together. 0: unknown.
  std::int64_t capacity = 0;
};

/// One unfinished request, as the estimate needs it.
struct eta_request {
  /// False while queued (no job claimed yet).
  bool started = false;
  time_ms started_at = 0;
  /// Queued requests the claim takes before this one (storage::eta_store::queued_ahead).
  std::int64_t ahead = 0;
  int jobs_total = 0;
  int jobs_done = 0;
};

/// An estimated completion time and its range (milliseconds since the epoch).
struct estimate {
  time_ms at = 0;
  time_ms earliest = 0;
  time_ms latest = 0;
  /// `measured` (from the action's recent durations at the site) or `assumed` (no recent
  /// run: `assumed_ms` per request).
  std::string basis;
};

/// The completion of `r` at `now` given the outlook `o`, with `assumed_ms` as the duration of
/// a request when the site has finished none of the action recently.
///
/// A running request finishes about a median run after it started (a late one: within what is
/// left of the slowest tenth). A queued one starts at once while fewer than `capacity` run and
/// nobody is ahead; otherwise when the requests ahead of it have gone through, at the rate the
/// site completes them, `capacity / mean run` (Little's law); then it runs a median run. The
/// range takes the 10th and 90th percentiles of the runs, and a quarter either way of the wait.
estimate estimate_completion(const eta_request& r, const action_outlook& o, time_ms now,
                             time_ms assumed_ms);

/// How long until the last of the `queued` requests of `o` is done, from `now` (0 when none
/// is queued).
time_ms drain_time(const action_outlook& o, time_ms now, time_ms assumed_ms);

}  // namespace ab::lifecycle
