#include "net/audit_trail.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace ab::net {

namespace {

/// Entries per transaction; a full batch is written without waiting for the interval.
constexpr std::size_t batch_limit = 512;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

audit_trail::audit_trail(std::shared_ptr<storage::store> store,
                         std::chrono::milliseconds flush_interval, std::size_t capacity)
    : store_(std::move(store)), interval_(flush_interval), capacity_(capacity) {
  writer_ = std::thread([this] { run(); });
}

audit_trail::~audit_trail() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void audit_trail::record(storage::audit_entry entry) {
  if (entry.at == 0) entry.at = now_ms();
  std::lock_guard lock{mutex_};
  if (queue_.size() >= capacity_) {
    if (dropped_++ % 10000 == 0)
      spdlog::error("audit trail: {} entries waiting for the store; dropping new ones ({} so far)",
                    queue_.size(), dropped_);
    return;
  }
  queue_.push_back(std::move(entry));
  ++recorded_;
  if (queue_.size() >= batch_limit) wake_.notify_one();
}

void audit_trail::flush() {
  std::unique_lock lock{mutex_};
  auto target = recorded_;
  wake_.notify_one();
  // Bounded: a store that stays away must not hang the caller (a draining node).
  flushed_.wait_for(lock, std::chrono::seconds(10), [&] { return written_ >= target; });
}

std::uint64_t audit_trail::dropped() const {
  std::lock_guard lock{mutex_};
  return dropped_;
}

bool audit_trail::write_batch(std::unique_lock<std::mutex>& lock) {
  auto n = std::min(queue_.size(), batch_limit);
  auto end = queue_.begin() + static_cast<std::ptrdiff_t>(n);
  std::vector<storage::audit_entry> batch(std::make_move_iterator(queue_.begin()),
                                          std::make_move_iterator(end));
  lock.unlock();
  auto err = store_->audit(batch);
  lock.lock();
  if (err) {
    // Put them back (moved-from slots) so that order and content survive the outage.
    std::move(batch.begin(), batch.end(), queue_.begin());
    spdlog::warn("audit trail: cannot write {} entries, will retry: {}", n, message_of(err));
    return false;
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  written_ += n;
  flushed_.notify_all();
  return true;
}

void audit_trail::run() {
  std::unique_lock lock{mutex_};
  auto retry_delay = interval_;
  for (;;) {
    wake_.wait_for(lock, retry_delay, [&] { return stopping_ || queue_.size() >= batch_limit; });
    bool ok = true;
    while (!queue_.empty() && ok) ok = write_batch(lock);
    retry_delay = ok ? interval_ : std::min(retry_delay * 2, std::chrono::milliseconds{5000});
    if (stopping_ && (queue_.empty() || !ok)) break;
  }
  if (!queue_.empty())
    spdlog::error("audit trail: {} entries could not be written before shutdown", queue_.size());
}

}  // namespace ab::net
