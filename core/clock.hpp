#pragma once

#include <chrono>
#include <cstdint>

namespace ab {

/// Milliseconds since the Unix epoch: the one time unit stored and compared everywhere.
using time_ms = std::int64_t;

/// A reading of the monotonic clock: it never goes back, and only the difference between two
/// readings means something (a timeout, a cool-down, a polling deadline).
using mono_time = std::chrono::steady_clock::time_point;

/// A source of time, injected so tests control time instead of sleeping.
///
/// Two readings: `now` is wall-clock time, for what is stored, shown or compared across
/// machines (leases, deadlines in the database, audit entries); `monotonic` is for intervals
/// measured inside this process, which a step of the wall clock (NTP, an operator) must not
/// stretch or cut short.
class clock {
 public:
  virtual ~clock() = default;
  /// The current wall-clock time in milliseconds since the Unix epoch.
  virtual time_ms now() const = 0;
  /// The current reading of the monotonic clock.
  virtual mono_time monotonic() const = 0;
};

/// The real clocks: `std::chrono::system_clock` and `std::chrono::steady_clock`.
class system_clock final : public clock {
 public:
  time_ms now() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  mono_time monotonic() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace ab
