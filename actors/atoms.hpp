#pragma once

// The messages the node's actors exchange, and what CAF needs to know about their types.

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "config/cluster_map.hpp"
#include "storage/types.hpp"

namespace ab::actors {

/// Claim (and hand back) the next batch.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Run the next claimed job.
using run_atom = caf::atom_constant<caf::atom("run")>;
/// Stop claiming, finish or release what is held, then stop.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
/// Drain time is up.
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
/// Renew the leases of the node's workers.
using renew_atom = caf::atom_constant<caf::atom("renew")>;
/// Recover stray jobs.
using recover_atom = caf::atom_constant<caf::atom("recover")>;
/// Prune what the retention lets go.
using prune_atom = caf::atom_constant<caf::atom("prune")>;
/// Record the node in the registry.
using beat_atom = caf::atom_constant<caf::atom("beat")>;
/// A new cluster map is in force.
using remap_atom = caf::atom_constant<caf::atom("remap")>;
/// Check the cluster map file for changes (also on SIGHUP).
using check_atom = caf::atom_constant<caf::atom("check")>;
/// Report state.
using status_atom = caf::atom_constant<caf::atom("status")>;
/// A new action filter for a worker.
using filter_atom = caf::atom_constant<caf::atom("filter")>;

/// What the supervisor reports about the node's worker pools.
struct pool_status {
  std::string cluster;
  /// Job type → live workers.
  std::map<std::string, int> workers;
  /// Worker restarts since start.
  std::int64_t restarts = 0;
  /// Worker slots given up after too many restarts.
  std::int64_t given_up = 0;
  bool draining = false;
  /// Clock checks that found this node's clock too far off the database's.
  std::int64_t clock_refusals = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_status& x) {
  return f(caf::meta::type_name("pool_status"), x.cluster, x.workers, x.restarts, x.given_up,
           x.draining, x.clock_refusals);
}

}  // namespace ab::actors

namespace ab::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action_filter& x) {
  return f(caf::meta::type_name("action_filter"), x.only, x.except, x.site);
}

}  // namespace ab::storage

namespace ab::config {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_def& x) {
  return f(caf::meta::type_name("cluster_def"), x.actions, x.workers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_map& x) {
  return f(caf::meta::type_name("cluster_map"), x.clusters, x.nodes, x.default_cluster);
}

}  // namespace ab::config
