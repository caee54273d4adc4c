#include "lifecycle/eta.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ab::lifecycle {

namespace {

/// Nearest-rank quantile `q` of sorted `xs` (not empty).
time_ms quantile(const std::vector<time_ms>& xs, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(xs.size())));
  return xs[std::clamp<std::size_t>(rank, 1, xs.size()) - 1];
}

time_ms rounded(double ms) {
  return static_cast<time_ms>(std::llround(ms));
}

}  // namespace

duration_stats summarise(std::vector<time_ms> durations) {
  duration_stats s;
  if (durations.empty()) return s;
  std::sort(durations.begin(), durations.end());
  s.samples = durations.size();
  s.p10 = quantile(durations, 0.1);
  s.median = quantile(durations, 0.5);
  s.p90 = quantile(durations, 0.9);
  s.mean = std::accumulate(durations.begin(), durations.end(), 0.0) /
           static_cast<double>(durations.size());
  return s;
}

std::int64_t max_overlap(const std::vector<std::pair<time_ms, time_ms>>& intervals) {
  // +1 at a start, -1 at an end; at one instant ends come first.
  std::vector<std::pair<time_ms, int>> events;
  events.reserve(intervals.size() * 2);
  for (const auto& [from, to] : intervals) {
    if (to < from) continue;
    events.emplace_back(from, 1);
    events.emplace_back(to, -1);
  }
  std::sort(events.begin(), events.end());
  std::int64_t now = 0, most = 0;
  for (const auto& e : events) most = std::max(most, now += e.second);
  return most;
}

estimate estimate_completion(const eta_request& r, const action_outlook& o, time_ms now,
                             time_ms assumed_ms) {
  const bool measured = o.run.samples > 0;
  const double median = measured ? static_cast<double>(o.run.median) : assumed_ms;
  const double p10 = measured ? static_cast<double>(o.run.p10) : assumed_ms / 2.0;
  const double p90 = measured ? static_cast<double>(o.run.p90) : assumed_ms * 2.0;
  const double mean = measured && o.run.mean > 0 ? o.run.mean : median;
  estimate e;
  e.basis = measured ? "measured" : "assumed";
  if (r.started) {
    const auto start = static_cast<double>(r.started_at);
    const double t = static_cast<double>(now);
    // Work left by steps: a request late for its median still has its undone steps to run.
    const double left =
        r.jobs_total > 0 ? median * (r.jobs_total - r.jobs_done) / r.jobs_total : 0.0;
    if (start + median >= t) {
      e.at = rounded(start + median);
      e.earliest = rounded(std::max(t, start + p10));
      e.latest = rounded(std::max(t, start + p90));
    } else {
      e.latest = rounded(std::max(start + p90, t + left));
      e.at = rounded(std::max(t + left / 2, (t + static_cast<double>(e.latest)) / 2));
      e.earliest = now;
    }
    return e;
  }
  const auto capacity = std::max<std::int64_t>({o.capacity, o.running, 1});
  const auto free = std::max<std::int64_t>(0, capacity - o.running);
  double wait = 0;
  if (r.ahead >= free) {
    // Requests complete at capacity / mean run; this one starts when the ahead - free + 1-th
    // of them has made room.
    const double rate = static_cast<double>(capacity) / std::max(mean, 1.0);
    wait = static_cast<double>(r.ahead - free + 1) / rate;
  }
  const auto t = static_cast<double>(now);
  e.at = rounded(t + wait + median);
  e.earliest = rounded(t + wait * 0.75 + p10);
  e.latest = rounded(t + wait * 1.25 + p90);
  return e;
}

time_ms drain_time(const action_outlook& o, time_ms now, time_ms assumed_ms) {
  if (o.queued <= 0) return 0;
  eta_request last;
  last.ahead = std::max<std::int64_t>(0, o.queued - 1);
  return estimate_completion(last, o, now, assumed_ms).at - now;
}

}  // namespace ab::lifecycle
