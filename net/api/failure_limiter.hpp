#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"

namespace ab::net {

/// How many failures a source may have before it is refused, and for how long.
struct failure_limits {
  /// Failures within `window_ms` after which the source is refused; 0 turns the limit off.
  std::size_t max_failures = 10;
  /// The window, counted from a source's first failure; once it has passed, the source starts
  /// afresh.
  time_ms window_ms = 60000;
  /// Most sources tracked at once; beyond it the source whose window began first is forgotten.
  std::size_t max_sources = 10000;
};

/// Counts failed attempts (bad credentials, guessed callback tokens) per source address in a
/// fixed window that opens at the source's first failure; a source with `max_failures` within
/// the window is refused until the window has passed. Memory is bounded by `max_sources`;
/// every call is a hash lookup under a mutex. Thread-safe.
class failure_limiter {
 public:
  failure_limiter(failure_limits limits, std::shared_ptr<const ab::clock> clk);

  /// Milliseconds until `address` may try again, or nullopt when it may try now.
  std::optional<time_ms> blocked(const std::string& address);

  /// Counts one failure of `address`.
  void record_failure(const std::string& address);

  /// Sources tracked now.
  std::size_t tracked() const;

 private:
  struct entry {
    std::string key;
    time_ms since = 0;
    std::size_t failures = 0;
  };
  /// Forgets sources whose window has passed (they sit at the front: oldest window first).
  void expire(time_ms now);

  failure_limits limits_;
  std::shared_ptr<const ab::clock> clock_;
  mutable std::mutex mutex_;
  /// Sources by the start of their window, oldest first.
  std::list<entry> order_;
  std::unordered_map<std::string, std::list<entry>::iterator> by_key_;
};

/// The key a source address is counted under: an IPv4 address as is (also when IPv4-mapped),
/// an IPv6 address by its /64 prefix (one host usually holds a whole /64), anything else as is.
std::string source_key(const std::string& address);

}  // namespace ab::net
