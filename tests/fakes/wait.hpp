#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ab::testing {

/// Polls `done` until it holds or `limit` passes; true if it held. For waiting on actors and
/// processes in tests: a generous bound, never a timing assertion.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace ab::testing
