#pragma once

// The estimates' role of the store: what the turnaround estimates (lifecycle/eta.hpp) and the
// node's queue gauges read of a site's queue and recent history, each call one snapshot.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::storage {

/// A request that finished, as the estimates learn from it.
struct finished_sample {
  request_id id = 0;
  std::string action;
  std::string priority_class;
  request_state state = request_state::succeeded;
  time_ms created_at = 0;
  time_ms started_at = 0;
  time_ms finished_at = 0;
  /// The completion time estimated at its submission (0: none was made).
  time_ms eta_at = 0;
  /// Who held its last job (empty when it never ran): the node that finished it.
  std::string last_owner;
};

/// What the turnaround estimates (and the queue gauges, through the estimates' board) read.
/// The defaults answer `unsupported` (decorators that hold no database); the SQL store answers
/// from migration 13's indexes.
class eta_store {
 public:
  virtual ~eta_store() = default;

  /// Requests of `site` that finished after `after`, oldest first, at most `limit` (index
  /// `requests_finished`).
  virtual caf::expected<std::vector<finished_sample>> finished_requests(const std::string& site,
                                                                        time_ms after,
                                                                        std::size_t limit);

  /// `site`'s queue in one snapshot: its ready jobs (every type) by type, class and action
  /// with the jobs of `types` done since `done_since`; its queued and running requests by
  /// action, class and state, a running one with no progress since `stuck_before` counted as
  /// stuck. Reads only, no locks (indexes `jobs_due`, `jobs_finished`, `requests_queue`).
  virtual caf::expected<queue_overview> overview(const std::string& site, time_ms stuck_before,
                                                 const std::vector<std::string>& types,
                                                 time_ms done_since);

  /// Queued requests of `site` and `action` that the claim takes before a request of virtual
  /// deadline `vdeadline` and id `id`: of each class, those whose `created_at − credit` is
  /// earlier (or equal with a smaller id). One statement on index `requests_queue`.
  virtual caf::expected<std::int64_t> queued_ahead(const std::string& site,
                                                   const std::string& action, time_ms vdeadline,
                                                   request_id id);
};

}  // namespace ab::storage
