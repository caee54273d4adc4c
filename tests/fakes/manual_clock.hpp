#pragma once

// A clock that tests move by hand, so that they never sleep.

#include <atomic>
#include <chrono>

#include "core/clock.hpp"

namespace ab {

/// A clock that only moves when told to; safe to read and advance from several threads.
class manual_clock final : public clock {
 public:
  /// Starts the wall clock at `start` milliseconds since the epoch and the monotonic clock at
  /// an arbitrary reading of its own.
  explicit manual_clock(time_ms start = 1'700'000'000'000) : now_(start) {}

  time_ms now() const override { return now_.load(); }
  mono_time monotonic() const override {
    return mono_time{} + std::chrono::milliseconds(mono_.load());
  }

  /// Moves time forward by `delta` milliseconds: both the wall and the monotonic clock.
  void advance(time_ms delta) {
    now_ += delta;
    mono_ += delta;
  }

  /// Steps the wall clock alone by `delta` milliseconds (either way), as NTP or an operator
  /// setting the time does; the monotonic clock does not move.
  void step_wall(time_ms delta) { now_ += delta; }

 private:
  std::atomic<time_ms> now_;
  /// Milliseconds since the monotonic clock's epoch; far from it, as a real reading is.
  std::atomic<std::int64_t> mono_{86'400'000};
};

}  // namespace ab
