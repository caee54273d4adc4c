#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/store.hpp"

namespace ab::net {

/// Records API calls in the store's audit table without putting a write on every call's path:
/// entries are queued and written in batches (one transaction each) by a background thread,
/// at least every `flush_interval`. While the store is unreachable they wait in memory, up to
/// `capacity`; beyond it new entries are counted as dropped and logged. The destructor
/// writes what is queued.
class audit_trail {
 public:
  explicit audit_trail(std::shared_ptr<storage::store> store,
                       std::chrono::milliseconds flush_interval = std::chrono::milliseconds{100},
                       std::size_t capacity = 100000);
  ~audit_trail();
  audit_trail(const audit_trail&) = delete;
  audit_trail& operator=(const audit_trail&) = delete;

  /// Queues `entry`; stamps its time if unset. Never blocks on the store.
  void record(storage::audit_entry entry);

  /// Writes everything queued so far before returning (or fails trying: then it stays queued).
  void flush();

  /// Entries lost because the queue was full.
  std::uint64_t dropped() const;

 private:
  void run();
  /// Writes one batch; false (batch kept) if the store refused it.
  bool write_batch(std::unique_lock<std::mutex>& lock);

  std::shared_ptr<storage::store> store_;
  std::chrono::milliseconds interval_;
  std::size_t capacity_;
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
