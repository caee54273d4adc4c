#pragma once

#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock_check.hpp"
#include "actors/handler.hpp"
#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "storage/store.hpp"

namespace ab::actors {

struct service_spec;

/// Keeps the node's actors whole: one worker pool per registered job type, sized by the node
/// configuration and its cluster (a pool restarts its crashed workers itself), and the node's
/// service actors (straggler manager, pruner, heartbeat, cluster-map watcher, clock check). A
/// crashed pool or service is restarted, within a restart-intensity limit, and counted. It resizes
/// and re-filters the pools when the cluster map changes (and hands the map on to the services that
/// follow it), pokes the other pools when one pool's chains move on, renews the leases of every
/// pool after checking the clock, wakes the pool of a job an installer's callback woke
/// (`wake_atom` with its request), and drains on request.
using supervisor_actor = caf::typed_actor<
    caf::reacts_to<remap_atom, config::cluster_map>, caf::reacts_to<check_atom>,
    caf::reacts_to<supervise_atom, service_spec>, caf::reacts_to<report_atom, pool_report>,
    caf::reacts_to<advance_atom, std::string>, caf::reacts_to<wake_atom, storage::request_id>,
    caf::replies_to<status_atom>::with<pool_status>, caf::replies_to<drain_atom>::with<bool>>;

/// One of the node's service actors as the supervisor runs it: started at once, restarted
/// after a crash (counted in `pool_status::service_restarts` under `name`), stopped after the
/// drain.
struct service_spec {
  std::string name;
  /// Spawns the service (again); `map` is the cluster map in force.
  std::function<caf::actor(caf::actor_system&, const supervisor_actor&,
                           const config::cluster_map& map)>
      spawn;
  /// Gets every new cluster map (`remap_atom`).
  bool follows_map = false;
  /// Gets SIGHUP's `check_atom`.
  bool checks_on_hup = false;
};

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
  /// Checked before every renewal (by the `clock_check` service the supervisor runs on it) and
  /// consulted before every claim; null: the clock is trusted (tests with an injected clock).
  std::shared_ptr<clock_check> clock_ok;
  /// Service actors started with the pools (more may follow with `supervise_atom`).
  std::vector<service_spec> services = {};
  /// What lease renewals go through: a connection of their own (a store of one connection),
  /// so that they never wait behind the pools' claims for one of `store`'s; a renewal that
  /// waits longer than a lease lets recovery hand a running job to another node. Null: `store`.
  std::shared_ptr<storage::job_queue> leases = {};
};

/// Workers of `type` that a node of `cluster` runs: the cluster's count for the type, else the
/// node's, else the node's `default`.
int desired_workers(const config::node_config& node, const config::cluster_map& map,
                    const std::string& cluster, const std::string& type);

/// Spawns the supervisor (detached: it makes blocking store calls), its pools and services.
supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_config config);

}  // namespace ab::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::actors::service_spec)
