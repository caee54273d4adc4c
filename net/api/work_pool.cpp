#include "net/api/work_pool.hpp"

namespace ab::net {

work_pool::work_pool(std::size_t threads, std::size_t capacity) : capacity_(capacity) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

work_pool::~work_pool() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool work_pool::try_post(std::function<void()>&& task) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopping_ || queue_.size() + running_ >= capacity_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

std::size_t work_pool::in_flight() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return queue_.size() + running_;
}

void work_pool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock{mutex_};
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    std::lock_guard<std::mutex> guard{mutex_};
    --running_;
  }
}

}  // namespace ab::net
