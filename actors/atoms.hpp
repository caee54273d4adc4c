#pragma once

// The messages the node's actors exchange, and what CAF needs to know about their types.

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "config/cluster_map.hpp"
#include "storage/types.hpp"

namespace ab::actors {

/// A timer is due (a pool's next poll, the map watcher's next look at its file).
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Run this claimed job (pool → worker).
using run_atom = caf::atom_constant<caf::atom("run")>;
/// Hand back finished jobs and claim more, in one transaction (pool → its claimer).
using cycle_atom = caf::atom_constant<caf::atom("cycle")>;
/// The job of a worker that crashed: its attempt failed (pool → its claimer).
using crashed_atom = caf::atom_constant<caf::atom("crashed")>;
/// Hand claimed jobs back unstarted (pool → its claimer).
using release_atom = caf::atom_constant<caf::atom("release")>;
/// Jobs may have become ready: poll soon (supervisor → pool).
using poke_atom = caf::atom_constant<caf::atom("poke")>;
/// An installer's callback woke a parked job (node → supervisor, with the request id), so a
/// job of this pool's type is claimable now (supervisor → pool).
using wake_atom = caf::atom_constant<caf::atom("wake")>;
/// A pool committed finished jobs, so chains moved on (pool → supervisor).
using advance_atom = caf::atom_constant<caf::atom("advance")>;
/// A pool's new number of workers (supervisor → pool).
using resize_atom = caf::atom_constant<caf::atom("resize")>;
/// Run one more service actor under supervision.
using supervise_atom = caf::atom_constant<caf::atom("supervise")>;
/// A pool's counts changed (pool → supervisor).
using report_atom = caf::atom_constant<caf::atom("report")>;
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
  /// Service actor (and worker pool, `pool:TYPE`) → restarts after a crash since start.
  std::map<std::string, std::int64_t> service_restarts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_status& x) {
  return f(caf::meta::type_name("pool_status"), x.cluster, x.workers, x.restarts, x.given_up,
           x.draining, x.clock_refusals, x.service_restarts);
}

/// What a worker answers about the job it was handed.
struct job_report {
  storage::job_lease lease;
  /// Done: the pool hands the completion back to the store. False when the worker recorded
  /// the outcome itself (a failure, a deferral, a park) or could not.
  bool finished = false;
  /// The result of a finished job (JSON text, may be empty).
  std::string result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_report& x) {
  return f(caf::meta::type_name("job_report"), x.lease, x.finished, x.result);
}

/// What a pool tells the supervisor about itself.
struct pool_report {
  std::string type;
  /// Live workers, not counting those retiring.
  int workers = 0;
  std::int64_t restarts = 0;
  std::int64_t given_up = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_report& x) {
  return f(caf::meta::type_name("pool_report"), x.type, x.workers, x.restarts, x.given_up);
}

}  // namespace ab::actors

namespace ab::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, action_filter& x) {
  return f(caf::meta::type_name("action_filter"), x.only, x.except, x.site, x.cluster);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_lease& x) {
  return f(caf::meta::type_name("job_lease"), x.id, x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, completion& x) {
  return f(caf::meta::type_name("completion"), x.job, x.result);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claimed_job& x) {
  return f(caf::meta::type_name("claimed_job"), x.id, x.request, x.position, x.type, x.host,
           x.action, x.attempt, x.max_attempts, x.lease_token, x.deadline, x.event, x.deferrals,
           x.deferred_since);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, complete_result& x) {
  return f(caf::meta::type_name("complete_result"), x.completed, x.lost);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cycle_result& x) {
  return f(caf::meta::type_name("cycle_result"), x.completed, x.claimed);
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
