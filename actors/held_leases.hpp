#pragma once

// The leases a pool holds right now, shared with the supervisor that renews them.

#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "storage/types.hpp"

namespace ab::actors {

/// The leases of one pool's jobs that are still its to renew: claimed, and not yet handed back
/// (completed, failed, deferred, parked, released) nor given up. The pool adds and removes;
/// the supervisor renews exactly these, each under its own token, so that a lease nobody works
/// on any more (a hand-back that did not reach the database, a claim whose answer was lost)
/// runs out and recovery retries its job. Thread-safe.
class held_leases {
 public:
  /// Starts holding the leases of `jobs`.
  void add(const std::vector<storage::claimed_job>& jobs) {
    std::lock_guard<std::mutex> lock{mutex_};
    for (const auto& j : jobs) held_.emplace(j.id, j.lease_token);
  }
  /// Stops holding `leases` (a lease of another token of the same job stays).
  void remove(const std::vector<storage::job_lease>& leases) {
    std::lock_guard<std::mutex> lock{mutex_};
    for (const auto& l : leases) held_.erase({l.id, l.token});
  }
  void remove(const storage::job_lease& lease) { remove(std::vector<storage::job_lease>{lease}); }
  /// The leases held now.
  std::vector<storage::job_lease> leases() const {
    std::lock_guard<std::mutex> lock{mutex_};
    std::vector<storage::job_lease> out;
    out.reserve(held_.size());
    for (const auto& [id, token] : held_) out.push_back({id, token});
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<storage::job_id, std::int64_t>> held_;
};

}  // namespace ab::actors
