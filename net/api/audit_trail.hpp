#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "storage/audit_store.hpp"

namespace ab::net {

/// Records API calls in the store's audit table without putting a write on every call's path:
/// entries are queued and written in batches (one transaction each) by a background thread,
/// at least every `flush_interval`. While the store is unreachable they wait in memory, up to
/// `capacity`; beyond it new entries are counted as dropped and logged. The destructor
/// writes what is queued.
///
/// Refusals (failed authentications, guessed callback tokens) are aggregated so that a guesser
/// cannot flood the trail: per source and kind, the first refusal is recorded as is and the
/// others within `refusal_window_ms` are counted into one summary entry, written when the
/// window closes, at `flush` and at destruction.
class audit_trail {
 public:
  explicit audit_trail(std::shared_ptr<storage::audit_store> store,
                       std::chrono::milliseconds flush_interval = std::chrono::milliseconds{100},
                       std::size_t capacity = 100000, std::shared_ptr<const ab::clock> clk = {},
                       time_ms refusal_window_ms = 60000);
  ~audit_trail();
  audit_trail(const audit_trail&) = delete;
  audit_trail& operator=(const audit_trail&) = delete;

  /// Queues `entry`; stamps its time if unset. Never blocks on the store.
  void record(storage::audit_entry entry);

  /// Records a refusal of kind `what` (a plural noun, e.g. "failed authentications"): the first
  /// from its source in a window as is, the rest as a count in the window's summary entry.
  void record_refusal(storage::audit_entry entry, const std::string& what);

  /// Counts a refusal of kind `what` from `source` (an address) into the window open for them,
  /// as `record_refusal` would; false, counting nothing, when no window is open: the caller
  /// then records the refusal with its entry. Spares building an entry for most refusals.
  bool count_refusal(const std::string& source, const std::string& what);

  /// Writes everything queued so far before returning (or fails trying: then it stays queued).
  void flush();

  /// Entries lost because the queue was full.
  std::uint64_t dropped() const;

 private:
  /// One open aggregation window of refusals from one source.
  struct refusal_window {
    std::string key;
    storage::audit_entry summary;
    std::string what;
    time_ms opened = 0;
    time_ms last = 0;
    std::uint64_t more = 0;
  };

  void run();
  /// Queues `entry` (caller holds the lock); false if the queue is full.
  bool push(storage::audit_entry entry);
  /// Counts a refusal into the window open for `key` (caller holds the lock), after closing
  /// the windows past their time; false if none is open for it.
  bool count_in_window(const std::string& key, time_ms now);
  /// Queues the summary of `w`'s refusals counted since the last one, if any.
  void summarise(refusal_window& w);
  /// Queues the summaries of windows opened before `before` and closes them; with `all`, queues
  /// every pending count and keeps the windows open.
  void close_windows(time_ms before, bool all);
  /// Writes one batch; false (batch kept) if the store refused it.
  bool write_batch(std::unique_lock<std::mutex>& lock);

  std::shared_ptr<storage::audit_store> store_;
  std::chrono::milliseconds interval_;
  std::size_t capacity_;
  std::shared_ptr<const ab::clock> clock_;
  time_ms refusal_window_ms_;
  /// Open windows, oldest first, and by source and kind.
  std::list<refusal_window> windows_;
  std::unordered_map<std::string, std::list<refusal_window>::iterator> window_of_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::vector<storage::audit_entry> queue_;
  std::uint64_t recorded_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace ab::net
