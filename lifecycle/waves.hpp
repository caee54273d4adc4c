#pragma once

// Rolling actions in waves: the plan (which host goes in which wave, never more than
// `max_unavailable` hosts of one rack or service group at once) and the engine that advances
// the site's waves, one node at a time.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "lifecycle/rules.hpp"
#include "storage/store.hpp"

namespace ab::lifecycle {

/// The group of `host` for a wave plan: the string fact `group_by` (`rack`, `service_group`)
/// of its discovery facts; hosts without it share the group `""` (treated as one rack).
std::string group_of(const storage::host_record& host, const std::string& group_by);

/// Splits `hosts` (in the order given) into waves: each wave takes at most `max_unavailable`
/// hosts of each group and, if `wave_size` > 0, at most `wave_size` hosts in all; a host goes
/// in the first wave with room. Returns the hosts with `wave_no` and `group` set, in wave
/// order. `max_unavailable` below 1 counts as 1.
std::vector<storage::wave_host> plan_waves(const std::vector<storage::host_record>& hosts,
                                           const std::string& group_by, int max_unavailable,
                                           int wave_size);

/// Counts of a wave's hosts by state.
struct wave_tally {
  int hosts = 0, pending = 0, running = 0, succeeded = 0, failed = 0;
};

/// The tally of wave `wave_no` of `w`.
wave_tally tally(const storage::wave_record& w, int wave_no);

/// Advances the site's waves: the node that holds the wave lease checks each running wave's
/// current requests, stops a wave whose failed hosts pass its threshold (the hosts of later
/// waves stay untouched), and after the pause submits the next wave's requests as the wave's
/// creator (idempotency key `wave-ID`, so that a round cut by a crash is repeated safely).
/// Everything it knows is in the site database: another node, or this one restarted, takes
/// over where it stopped.
class wave_engine {
 public:
  /// `owner` names this node in the wave lease, held for `lease_ms` per round.
  wave_engine(std::shared_ptr<storage::store> store, std::shared_ptr<const rules> rules,
              std::shared_ptr<const ab::clock> clk, std::string owner, time_ms lease_ms = 30000);

  /// One round; the number of running waves looked at (0 when another node holds the lease).
  caf::expected<std::size_t> advance();

  /// One round for one wave (the lease is the caller's).
  caf::error advance(storage::wave_record w);

 private:
  /// Submits the pending hosts of wave `wave_no`; fills their request, state and error.
  caf::error submit_wave(const storage::wave_record& w, int wave_no,
                         std::vector<storage::wave_host>& changed);

  std::shared_ptr<storage::store> store_;
  std::shared_ptr<const rules> rules_;
  std::shared_ptr<const ab::clock> clock_;
  std::string owner_;
  time_ms lease_ms_;
};

}  // namespace ab::lifecycle
