#pragma once

#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock_check.hpp"
#include "actors/handler.hpp"
#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// Keeps the node's worker pools whole: one pool per registered job type, sized by the node
/// configuration and its cluster; restarts a crashed worker (within a restart-intensity limit),
/// resizes and re-filters the pools when the cluster map changes, renews the leases of every
/// live worker, and drains on request.
using supervisor_actor =
    caf::typed_actor<caf::reacts_to<remap_atom, config::cluster_map>, caf::reacts_to<renew_atom>,
                     caf::reacts_to<deadline_atom>, caf::replies_to<status_atom>::with<pool_status>,
                     caf::replies_to<drain_atom>::with<bool>>;

/// A fresh, random id of this process's incarnation (16 hex digits).
std::string make_incarnation();

/// What the supervisor is given.
struct supervisor_config {
  config::node_config node;
  config::cluster_map map;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<const handler_registry> handlers;
  std::shared_ptr<const ab::clock> clk;
  /// This process's incarnation (`make_incarnation`): every lease owner names it, so that a
  /// restarted node never renews its dead predecessor's leases.
  std::string incarnation = make_incarnation();
  /// Checked before every renewal and consulted before every claim; null: the clock is
  /// trusted (tests with an injected clock).
  std::shared_ptr<clock_check> clock_ok;
};

/// Workers of `type` that a node of `cluster` runs: the cluster's count for the type, else the
/// node's, else the node's `default`.
int desired_workers(const config::node_config& node, const config::cluster_map& map,
                    const std::string& cluster, const std::string& type);

/// Spawns the supervisor (detached: it makes blocking store calls) and its workers.
supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_config config);

}  // namespace ab::actors
