#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ab::net {

/// A fixed set of threads for blocking work (store calls) that HTTP I/O threads hand off, with
/// a bounded queue: when it is full the work is refused at once, so that an overloaded node
/// answers "retry later" instead of letting requests pile up.
class work_pool {
 public:
  /// Starts `threads` threads; at most `capacity` tasks wait or run at any time.
  work_pool(std::size_t threads, std::size_t capacity);
  /// Finishes the queued tasks and joins the threads.
  ~work_pool();
  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  /// Queues `task`; false (and `task` untouched) when the pool is at capacity or stopping.
  bool try_post(std::function<void()>&& task);
  /// Tasks waiting or running now.
  std::size_t in_flight() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  std::size_t capacity_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ab::net
