#pragma once

// The node's small periodic services: the straggler manager, the node heartbeat, the
// cluster-map watcher and the clock check. Each runs detached (they make blocking store or file
// calls); the node runs them under its supervisor (`*_service` give the supervisor their specs).

#include <functional>
#include <memory>
#include <string>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock_check.hpp"
#include "actors/supervisor.hpp"
#include "config/cluster_map.hpp"
#include "core/clock.hpp"
#include "lifecycle/eta_board.hpp"
#include "storage/job_queue.hpp"
#include "storage/node_registry.hpp"

namespace ab::actors {

/// Recovers jobs whose lease or deadline passed, every `interval_ms`, on every node.
using straggler_actor = caf::typed_actor<caf::reacts_to<recover_atom>>;

/// Spawns the straggler manager.
straggler_actor spawn_straggler(caf::actor_system& sys, std::shared_ptr<storage::job_queue> store,
                                time_ms interval_ms);

/// Records the node (id, site, cluster, address, last seen) in the site database.
using heartbeat_actor =
    caf::typed_actor<caf::reacts_to<beat_atom>, caf::reacts_to<remap_atom, config::cluster_map>>;

/// Spawns the heartbeat; `node.cluster` follows the cluster map it is sent. With every beat it
/// also refreshes `claim` (the process's claim to its node id, may be null) and calls `on_lost`
/// once if another process holds the id now.
heartbeat_actor spawn_heartbeat(caf::actor_system& sys,
                                std::shared_ptr<storage::node_registry> store,
                                storage::node_record node, config::cluster_map map,
                                time_ms interval_ms,
                                std::shared_ptr<storage::node_claim> claim = nullptr,
                                std::function<void()> on_lost = {});

/// Watches the cluster-map file: reloads it when it changes (or on `check_atom`, sent on
/// SIGHUP; `tick_atom` is its own timer), keeps the last good map when an edit is invalid, and
/// sends a valid new map to the supervisor (which hands it on to the heartbeat).
using map_watcher_actor = caf::typed_actor<caf::reacts_to<check_atom>, caf::reacts_to<tick_atom>>;

/// Spawns the watcher of `path`, which held `current` at start-up; a valid new map is also put
/// in force in `live` (read by the API), when given.
map_watcher_actor spawn_map_watcher(caf::actor_system& sys, std::string path,
                                    config::cluster_map current, time_ms interval_ms,
                                    supervisor_actor supervisor,
                                    std::shared_ptr<config::live_cluster_map> live = nullptr);

/// The straggler manager as a supervised service (`straggler`).
service_spec straggler_service(std::shared_ptr<storage::job_queue> store, time_ms interval_ms);

/// The heartbeat as a supervised service (`heartbeat`), following the cluster map; a restarted
/// one keeps the claim (and `on_lost`).
service_spec heartbeat_service(std::shared_ptr<storage::node_registry> store,
                               storage::node_record node, time_ms interval_ms,
                               std::shared_ptr<storage::node_claim> claim = nullptr,
                               std::function<void()> on_lost = {});

/// The watcher of the cluster map at `path` as a supervised service (`map_watcher`), told of
/// SIGHUP; a restarted one starts from the map in force.
service_spec map_watcher_service(std::string path, time_ms interval_ms,
                                 std::shared_ptr<config::live_cluster_map> live = nullptr);

/// Sets the node's queue gauges (`metrics/queue_gauges.hpp`) every `interval_ms` from the
/// queue the estimates' board read last (`lifecycle::eta_board::overview`: one store query
/// serves both), and `ab_node_info`; follows the cluster map (a job counts under the cluster
/// that serves its action).
struct queue_gauges_config {
  std::shared_ptr<lifecycle::eta_board> board;
  std::string node_id;
  std::string site;
  time_ms interval_ms = 5000;
  std::shared_ptr<const ab::clock> clk;
};

/// The queue gauges as a supervised service (`queue_gauges`), following the cluster map.
service_spec queue_gauges_service(queue_gauges_config cfg);

/// The name the clock check runs under (`clock_check_service`).
inline constexpr const char* clock_check_name = "clock_check";

/// The clock check on `check` as a supervised service (`clock_check`): the supervisor asks it
/// before every lease renewal, and adds it itself when its configuration has a clock check.
service_spec clock_check_service(std::shared_ptr<clock_check> check);

}  // namespace ab::actors
