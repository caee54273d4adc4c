#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ab {

/// Milliseconds since the Unix epoch: the one time unit stored and compared everywhere.
using time_ms = std::int64_t;

/// A source of wall-clock time, injected so tests control time instead of sleeping.
class clock {
 public:
  virtual ~clock() = default;
  /// The current time in milliseconds since the Unix epoch.
  virtual time_ms now() const = 0;
};

/// The real wall clock.
class system_clock final : public clock {
 public:
  time_ms now() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

/// A clock that only moves when told to; safe to read and advance from several threads.
class manual_clock final : public clock {
 public:
  /// Starts at `start` milliseconds.
  explicit manual_clock(time_ms start = 1'700'000'000'000) : now_(start) {}
  time_ms now() const override { return now_.load(); }
  /// Moves time forward by `delta` milliseconds.
  void advance(time_ms delta) { now_ += delta; }

 private:
  std::atomic<time_ms> now_;
};

}  // namespace ab
