#pragma once

// The load of ab-bench-throughput: clients that keep submitting reimages of their own hosts in
// batches, a tracker that sees requests end in the site database and hands their hosts back to
// their client, and the API calls of the bombarding clients.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/http_load.hpp"
#include "storage/detail/sql.hpp"

namespace ab::bench {

/// Counts of the API calls of the submitting clients and the bombard.
struct call_counts {
  std::atomic<std::int64_t> calls{0};
  /// 429 or 503 with Retry-After: the deployment shed the call (retried by the clients).
  std::atomic<std::int64_t> shed{0};
  std::atomic<std::int64_t> errors_5xx{0};
  /// No answer at all (connection refused or cut, timeout).
  std::atomic<std::int64_t> no_answer{0};
  /// Any other status that is not a success.
  std::atomic<std::int64_t> other{0};
  void count(long status);
  /// "STATUS×N ..." of the answers that were no success, e.g. "500×3 504×1".
  std::string failures() const;

 private:
  mutable std::mutex mutex_;
  std::map<long, std::int64_t> failed_;
};

/// A reimage that ended, as the tracker saw it.
struct finished_request {
  std::int64_t id = 0;
  /// The database's `finished_at`, epoch milliseconds.
  std::int64_t finished_at = 0;
  bool succeeded = false;
};

/// Submitting clients and the tracker over one fleet.
class reimage_load {
 public:
  /// `hosts` are the fleet's names (all in service), split evenly over `clients` clients that
  /// call the API at `api_port` and submit batches of `batch`; `db` reads the site database.
  reimage_load(std::vector<std::string> hosts, int clients, int batch, int api_port,
               std::unique_ptr<storage::detail::connection_pool> db);
  ~reimage_load();
  reimage_load(const reimage_load&) = delete;
  reimage_load& operator=(const reimage_load&) = delete;

  /// Starts the clients and the tracker.
  void start();
  /// Stops them (requests under way go on in the deployment).
  void stop();

  /// Reimages that ended with `finished_at` in [from_ms, to_ms): succeeded and failed.
  std::pair<std::int64_t, std::int64_t> finished_between(std::int64_t from_ms,
                                                         std::int64_t to_ms) const;
  /// Requests submitted and not seen to end yet.
  std::int64_t in_flight() const;
  /// Batches submitted (accepted).
  std::int64_t batches() const { return batches_.load(); }
  /// Ids of requests submitted lately (for the bombard's reads), newest last.
  std::vector<std::int64_t> recent_ids() const;
  const call_counts& calls() const { return calls_; }

 private:
  struct client {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::size_t> free;
  };
  void run_client(std::size_t k);
  void run_tracker();
  /// Takes in what the tracker read: hosts back to their clients.
  void settle(const std::vector<finished_request>& rows);

  std::vector<std::string> hosts_;
  int batch_;
  int api_port_;
  std::unique_ptr<storage::detail::connection_pool> db_;
  std::vector<std::unique_ptr<client>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  call_counts calls_;
  std::atomic<std::int64_t> batches_{0};

  mutable std::mutex mutex_;
  /// Requests submitted and not ended: their client and host.
  std::unordered_map<std::int64_t, std::pair<std::size_t, std::size_t>> owners_;
  /// Requests seen to end before their client registered them.
  std::unordered_set<std::int64_t> ended_early_;
  std::unordered_set<std::int64_t> seen_;
  std::vector<finished_request> finished_;
  std::deque<std::int64_t> recent_;
};

/// A mix of the reads an API's users make, for the bombard: request `i` of the schedule.
load_request bombard_call(std::size_t i, const std::vector<std::int64_t>& ids,
                          const std::vector<std::string>& hosts);

}  // namespace ab::bench
