#include "net/api/audit_trail.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "net/api/failure_limiter.hpp"

namespace ab::net {

namespace {

/// Entries per transaction; a full batch is written without waiting for the interval.
constexpr std::size_t batch_limit = 512;

/// Most refusal windows open at once; beyond it the oldest is closed early.
constexpr std::size_t window_limit = 10000;

}  // namespace

audit_trail::audit_trail(std::shared_ptr<storage::audit_store> store,
                         std::chrono::milliseconds flush_interval, std::size_t capacity,
                         std::shared_ptr<const ab::clock> clk, time_ms refusal_window_ms)
    : store_(std::move(store)),
      interval_(flush_interval),
      capacity_(capacity),
      clock_(clk ? std::move(clk) : std::make_shared<system_clock>()),
      refusal_window_ms_(refusal_window_ms) {
  writer_ = std::thread([this] { run(); });
}

audit_trail::~audit_trail() {
  {
    std::lock_guard lock{mutex_};
    close_windows(0, true);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

bool audit_trail::push(storage::audit_entry entry) {
  if (queue_.size() >= capacity_) {
    if (dropped_++ % 10000 == 0)
      spdlog::error("audit trail: {} entries waiting for the store; dropping new ones ({} so far)",
                    queue_.size(), dropped_);
    return false;
  }
  queue_.push_back(std::move(entry));
  ++recorded_;
  if (queue_.size() >= batch_limit) wake_.notify_one();
  return true;
}

void audit_trail::record(storage::audit_entry entry) {
  if (entry.at == 0) entry.at = clock_->now();
  std::lock_guard lock{mutex_};
  push(std::move(entry));
}

void audit_trail::record_refusal(storage::audit_entry entry, const std::string& what) {
  auto now = clock_->now();
  if (entry.at == 0) entry.at = now;
  // Counted like the rate limit counts: an IPv6 host rotating its addresses is one source.
  auto source = source_key(entry.source);
  auto key = source + '\n' + what;
  std::lock_guard lock{mutex_};
  if (count_in_window(key, now)) return;
  if (windows_.size() >= window_limit) {
    summarise(windows_.front());
    window_of_.erase(windows_.front().key);
    windows_.pop_front();
  }
  refusal_window w{key, entry, what, now, now, 0};
  w.summary.at = now;
  w.summary.source = source;
  w.summary.action = what;
  w.summary.target = "*";
  w.summary.decision = "denied";
  windows_.push_back(std::move(w));
  window_of_.emplace(std::move(key), std::prev(windows_.end()));
  push(std::move(entry));
}

bool audit_trail::count_refusal(const std::string& source, const std::string& what) {
  auto now = clock_->now();
  auto key = source_key(source) + '\n' + what;
  std::lock_guard lock{mutex_};
  return count_in_window(key, now);
}

bool audit_trail::count_in_window(const std::string& key, time_ms now) {
  close_windows(now - refusal_window_ms_, false);
  auto it = window_of_.find(key);
  if (it == window_of_.end()) return false;
  auto& w = *it->second;
  if (w.more++ == 0) w.opened = now;
  w.last = now;
  return true;
}

void audit_trail::summarise(refusal_window& w) {
  if (w.more == 0) return;
  auto e = w.summary;
  e.at = w.last;
  auto seconds = (w.last - w.opened) / 1000;
  e.detail = std::to_string(w.more) + " more " + w.what + " from " + w.summary.source + " in " +
             std::to_string(seconds) + " s";
  push(std::move(e));
  w.more = 0;
}

void audit_trail::close_windows(time_ms before, bool all) {
  while (!windows_.empty() && windows_.front().summary.at <= before) {
    summarise(windows_.front());
    window_of_.erase(windows_.front().key);
    windows_.pop_front();
  }
  if (all)
    for (auto& w : windows_) summarise(w);
}

void audit_trail::flush() {
  std::unique_lock lock{mutex_};
  close_windows(clock_->now() - refusal_window_ms_, false);
  close_windows(0, true);
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
    close_windows(clock_->now() - refusal_window_ms_, false);
    bool ok = true;
    while (!queue_.empty() && ok) ok = write_batch(lock);
    retry_delay = ok ? interval_ : std::min(retry_delay * 2, std::chrono::milliseconds{5000});
    if (stopping_ && (queue_.empty() || !ok)) break;
  }
  if (!queue_.empty())
    spdlog::error("audit trail: {} entries could not be written before shutdown", queue_.size());
}

}  // namespace ab::net
