#pragma once

// The estimates' role of the store: what the turnaround estimates (lifecycle/eta.hpp) read of
// a site's queue and recent history, each call one or two indexed statements.

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

/// Queued or running requests of one action and priority class.
struct active_sample {
  std::string action;
  std::string priority_class;
  request_state state = request_state::queued;
  std::int64_t count = 0;
};

/// Ready jobs of one type, action and class: how many, since when the oldest waits, and how
/// many jobs of them finished recently.
struct job_queue_row {
  std::string type;
  std::string action;
  std::string priority_class;
  std::int64_t ready = 0;
  /// When the oldest ready job became claimable (0: none is ready).
  time_ms oldest_ready = 0;
  /// Jobs done since the `done_since` of the call.
  std::int64_t done = 0;
};

/// What the turnaround estimates read. The defaults answer `unsupported` (decorators that
/// hold no database); the SQL store answers from migration 13's indexes.
class eta_store {
 public:
  virtual ~eta_store() = default;

  /// Requests of `site` that finished after `after`, oldest first, at most `limit` (index
  /// `requests_finished`).
  virtual caf::expected<std::vector<finished_sample>> finished_requests(const std::string& site,
                                                                        time_ms after,
                                                                        std::size_t limit);

  /// Queued and running requests of `site` counted by action, class and state (index
  /// `requests_queue`).
  virtual caf::expected<std::vector<active_sample>> active_requests(const std::string& site);

  /// Queued requests of `site` and `action` that the claim takes before a request of virtual
  /// deadline `vdeadline` and id `id`: of each class, those whose `created_at − credit` is
  /// earlier (or equal with a smaller id). One statement on index `requests_queue`.
  virtual caf::expected<std::int64_t> queued_ahead(const std::string& site,
                                                   const std::string& action, time_ms vdeadline,
                                                   request_id id);

  /// Ready jobs of `site` of each of `types` by action and class, and the jobs of those types
  /// done since `done_since` (indexes `jobs_claim_site`, `jobs_finished`).
  virtual caf::expected<std::vector<job_queue_row>> ready_jobs(
      const std::string& site, const std::vector<std::string>& types, time_ms done_since);
};

}  // namespace ab::storage
