#pragma once

// Why an unfinished request is not moving: one plain function that `GET /v1/requests/{id}`
// asks, tested without a network.

#include <optional>
#include <string>
#include <vector>

#include "config/cluster_map.hpp"
#include "core/clock.hpp"
#include "lifecycle/safety.hpp"
#include "storage/types.hpp"

namespace ab::net {

/// What `waiting_for` looks at besides the request: the node registry, the cluster map in
/// force, the time, and how recent a heartbeat must be for its node to count as live.
struct waiting_context {
  const std::vector<storage::node_record>& nodes;
  const config::cluster_map& map;
  time_ms now = 0;
  /// A node whose last heartbeat is older than this is not live (a few heartbeat intervals).
  time_ms live_window_ms = 30'000;
  /// The holds and pauses that stop the request's work (`lifecycle::blockers_of`).
  std::vector<lifecycle::blocker> blockers = {};
};

/// Why request `r` waits, in words, or nullopt when it does not (finished, or its current job
/// is running or about to be claimed). In order: the current job is parked (the installer's
/// callback, until its deadline); a hold or pause stops it (`ctx.blockers`); it waits its turn
/// under the pacing limits (`pacing: …`); it waits for a retry (`retry at T after: <error>`); no
/// cluster of the map serves the action; no live node of the serving cluster in the request's
/// site has sent a heartbeat within the window.
std::optional<std::string> waiting_for(const storage::request_view& r, const waiting_context& ctx);

/// The holds and pauses that stop unfinished request `r` (its host's hold, pauses of its site,
/// of the cluster `map` has serve its action, of its action); empty when none do, when its
/// current job runs or is parked, or when the store cannot say. The hold is the one `r` was
/// read with (`request_view::host_hold`); `store`'s pauses are read only when `r` says some are
/// in force, so that a GET costs the database one statement while nothing is paused.
std::vector<lifecycle::blocker> safety_blockers(storage::safety_store& store,
                                                const config::cluster_map& map,
                                                const storage::request_view& r);

/// `time` (epoch ms) as ISO 8601 UTC to the second: `2026-12-01T10:09:13Z`.
std::string iso_utc(time_ms time);

}  // namespace ab::net
