#pragma once

// Client threads that call without pause until stopped, for tests that break something
// (kill a router, a node) while calls go on and then check that none failed.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/wait.hpp"

namespace ab::testing {

/// `threads` threads, each making calls `call(thread, i)` for i = 0, 1, ... until stopped;
/// a call returns "" when it succeeded, else what failed. The destructor stops them.
class call_loop {
 public:
  call_loop(int threads, std::function<std::string(int, long)> call) : call_(std::move(call)) {
    for (int t = 0; t < threads; ++t)
      threads_.emplace_back([this, t] {
        for (long i = 0; !done_; ++i) {
          auto failed = call_(t, i);
          ++calls_;
          if (!failed.empty()) {
            std::lock_guard<std::mutex> guard{mutex_};
            failures_.push_back(std::move(failed));
          }
        }
      });
  }
  ~call_loop() { stop(); }
  call_loop(const call_loop&) = delete;
  call_loop& operator=(const call_loop&) = delete;

  /// Calls made so far.
  long calls() const { return calls_; }
  /// Waits until `more` calls more than now have been made (`limit` at most); true if so.
  bool wait_calls(long more, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    long until = calls_ + more;
    return wait_until([&] { return calls_ >= until; }, limit);
  }
  /// Stops the threads (idempotent) and returns what failed.
  std::vector<std::string> stop() {
    done_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    std::lock_guard<std::mutex> guard{mutex_};
    return failures_;
  }

 private:
  std::function<std::string(int, long)> call_;
  std::atomic<bool> done_{false};
  std::atomic<long> calls_{0};
  std::mutex mutex_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

}  // namespace ab::testing
