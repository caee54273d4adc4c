#pragma once

// The API's reads' share of the node's time: a token bucket of milliseconds. Each read that
// is answered spends the time it took (from its admission to its answer: the store actors'
// queue and the database, which a read under load spends most of its time in); the bucket
// refills at `ms_per_s` a second, up to one second's worth. A read that comes while the bucket
// is empty is refused at once (429, Retry-After), before it reaches a store actor, so that
// readers back off while the node's workers keep their share of the database and the machine
// (docs/benchmarks.md, the bombarded throughput).

#include <functional>
#include <mutex>

namespace ab::net {

class read_budget {
 public:
  /// `ms_per_s` 0 turns the budget off (every read is admitted). `now_ms` is a monotonic clock
  /// in milliseconds (fractions count); unset: std::chrono::steady_clock.
  explicit read_budget(double ms_per_s, std::function<double()> now_ms = {});

  /// Whether a read may start now: the bucket is not empty.
  bool admit();
  /// Spends `ms` for a read that was answered.
  void spend(double ms);
  /// The milliseconds left now (negative: reads in flight overdrew it).
  double left();
  /// The clock's time now, in milliseconds.
  double now() const { return now_(); }
  bool enabled() const { return rate_ > 0; }

 private:
  void refill_locked(double now);

  double rate_;
  std::function<double()> now_;
  std::mutex mutex_;
  double tokens_;
  double at_;
};

}  // namespace ab::net
