#pragma once

// The follower of the site database's cluster map: every node of a site polls the map's
// version and puts a new version in force, as the file watcher does with a file.

#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/supervisor.hpp"
#include "config/cluster_map.hpp"
#include "storage/cluster_map_store.hpp"

namespace ab::actors {

/// Reads the version of the site's cluster map every poll interval (`tick_atom`, its own
/// timer) and at once on `check_atom` (SIGHUP); a new version is read, parsed and, when it
/// differs from the map in force, sent to the supervisor (which re-filters and resizes the
/// pools and hands it on to the heartbeat). A stored map that does not parse, or a store that
/// does not answer, is logged and the map in force stays.
using map_follower_actor = caf::typed_actor<caf::reacts_to<check_atom>, caf::reacts_to<tick_atom>>;

/// Spawns the follower (detached: it makes blocking store calls), which starts from `current`;
/// a new map is also put in force in `live` (read by the API), when given.
map_follower_actor spawn_map_follower(caf::actor_system& sys,
                                      std::shared_ptr<storage::cluster_map_store> store,
                                      config::cluster_map current, time_ms poll_ms,
                                      supervisor_actor supervisor,
                                      std::shared_ptr<config::live_cluster_map> live = nullptr);

/// The follower as a supervised service (`map_follower`), told of SIGHUP; a restarted one
/// starts from the map in force and reads the stored one on its first poll.
service_spec map_follower_service(std::shared_ptr<storage::cluster_map_store> store,
                                  time_ms poll_ms,
                                  std::shared_ptr<config::live_cluster_map> live = nullptr);

}  // namespace ab::actors
