#pragma once

// The waves' role of the store: rolling actions over sets of hosts (their plan, which host goes
// in which wave, and their progress) and the lease that lets one node of the site advance them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::storage {

using wave_id = std::int64_t;

/// One host of a wave plan and how far it got.
struct wave_host {
  std::string host;
  /// The wave it belongs to, from 1.
  int wave_no = 1;
  /// Its group (rack or service group) in the plan.
  std::string group;
  /// Its request once submitted; 0 before.
  request_id request = 0;
  /// `pending` (not submitted: untouched), `running`, `succeeded`, `failed`, `cancelled`.
  std::string state = "pending";
  /// Why it failed (its request's error, or why it could not be submitted).
  std::string error;
};

/// A rolling action over a set of hosts.
struct wave_record {
  wave_id id = 0;
  std::string action;
  std::string priority_class = "user";
  /// `running`, `stopped` (by its failure threshold or an operator), `succeeded`.
  std::string state = "running";
  std::string created_by;
  time_ms created_at = 0;
  time_ms updated_at = 0;
  /// The fact that groups hosts (`rack` or `service_group`).
  std::string group_by = "rack";
  /// The most hosts of one group in a wave (and so unavailable at once).
  int max_unavailable = 1;
  /// The most hosts of a wave; 0: no cap beyond `max_unavailable` per group.
  int wave_size = 0;
  /// Wait between the end of one wave and the start of the next.
  time_ms pause_ms = 0;
  /// Stop when more than this percentage of a wave's hosts failed.
  int failure_threshold = 0;
  int waves_total = 0;
  /// The wave started last, 0 before the first.
  int current_wave = 0;
  /// When the next wave may start (after the pause), 0 when not set.
  time_ms next_at = 0;
  /// Why it stopped or how it ended, or what it waits for; empty otherwise.
  std::string reason;
  /// The creator's hourly quota of destructive actions when it was made (0: none): each wave
  /// is charged against it when it starts, and waits while it does not fit.
  std::int64_t quota_per_hour = 0;
  /// The plan, in wave order; empty in listings.
  std::vector<wave_host> hosts;
};

/// What a listing of waves returns.
struct wave_filter {
  /// Only waves in this state; empty: all.
  std::string state;
  /// Only waves with a smaller id (the previous page's last one); 0: from the newest.
  wave_id before = 0;
  std::size_t limit = 100;
};

/// Waves and the site's wave lease. Every call is one transaction; none throws.
class wave_store {
 public:
  virtual ~wave_store() = default;

  /// Stores a wave with its plan (`hosts`); returns its id.
  virtual caf::expected<wave_id> create_wave(const wave_record& w) = 0;

  /// A wave with its plan.
  virtual caf::expected<wave_record> wave(wave_id id) = 0;

  /// Waves newest first, without their plans.
  virtual caf::expected<std::vector<wave_record>> waves(const wave_filter& filter) = 0;

  /// Writes a wave's progress (state, current wave, next start, reason) and the given hosts'
  /// request, state and error, in one transaction, only while the stored wave is `running`:
  /// false (nothing written) once it stopped or ended, so that a stop is never undone.
  /// `not_found` for an unknown wave.
  virtual caf::expected<bool> update_wave(const wave_record& w,
                                          const std::vector<wave_host>& hosts) = 0;

  /// Stops a running wave with `reason`: no further host of it is submitted. False if it was
  /// no longer running; `not_found` for an unknown wave.
  virtual caf::expected<bool> stop_wave(wave_id id, const std::string& reason) = 0;

  /// Takes or renews the site's one wave lease for `owner` until now + `lease_ms`; false when
  /// another owner holds an unexpired lease.
  virtual caf::expected<bool> take_wave_lease(const std::string& owner, time_ms lease_ms) = 0;
};

}  // namespace ab::storage
