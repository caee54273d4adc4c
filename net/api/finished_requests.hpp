#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::net {

/// Finished requests as last read from the store, for `GET /v1/requests/{id}`. A finished
/// request never changes (its outcome and its jobs are final: a late completion is fenced off
/// by its lease), so a read of one can answer the next GETs of it for a while without the
/// database. Each entry lives `max_age_ms` (monotonic time) and at most `capacity` are kept,
/// the oldest dropped first. Retention pruning is the only thing that removes a finished
/// request from the store: a pruned one is still answered from here until its entry expires.
/// Unfinished requests are never kept. Thread-safe: the API's store actors share one.
class finished_requests {
 public:
  explicit finished_requests(std::shared_ptr<const ab::clock> clk, time_ms max_age_ms = 5000,
                             std::size_t capacity = 4096);

  /// The kept read of request `id`, if it is kept and not expired.
  std::optional<storage::request_view> find(storage::request_id id);

  /// Keeps `r` if it is finished (succeeded, failed or cancelled); ignores it otherwise.
  void keep(const storage::request_view& r);

  /// Requests kept now (expired ones included until they are dropped).
  std::size_t size() const;

 private:
  struct entry {
    std::shared_ptr<const storage::request_view> view;
    mono_time expires;
    std::list<storage::request_id>::iterator order;
  };
  using entries = std::unordered_map<storage::request_id, entry>;

  /// Drops the entry `it` (the caller holds the lock).
  void drop(entries::iterator it);

  std::shared_ptr<const ab::clock> clock_;
  std::chrono::milliseconds max_age_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  entries by_id_;
  /// Ids in the order they were kept, oldest first.
  std::list<storage::request_id> order_;
};

}  // namespace ab::net
