#pragma once

#include <memory>
#include <string>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock_check.hpp"
#include "actors/handler.hpp"
#include "actors/held_leases.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// What a pool tells whoever runs it: its counts when they change, and that chains moved on
/// when it committed finished jobs (so that the other pools of the node poll soon).
using pool_parent_actor = caf::typed_actor<caf::reacts_to<report_atom, pool_report>,
                                           caf::reacts_to<advance_atom, std::string>>;

/// The workers of one job type and the one claimer that feeds them. The pool claims as many
/// jobs as it has idle workers (plus, for jobs that take less time than a claim, as many as
/// its workers finish during one claim), in one transaction, and tells idle workers of the
/// claim's batch (`job_batch`): each takes the next job nobody has taken, until none is left,
/// so a claimed job never waits while a worker of its type is idle. Finished jobs go
/// back with the next claim (`complete_and_claim`), which starts as soon as a worker reports,
/// so a chain's next job of the same type is claimable at once. When a claim finds nothing the
/// pool polls again after a pause that doubles up to `idle_poll_max_ms`; a `poke_atom` (the
/// node's chains moved on) brings the next poll forward to `poll_interval_ms` after the last.
/// It restarts a crashed worker (within a restart-intensity limit) and fails the attempt the
/// worker was running. The pool itself makes no blocking call: its claimer (detached) does.
using pool_actor = caf::typed_actor<caf::reacts_to<filter_atom, storage::action_filter>,
                                    caf::reacts_to<resize_atom, int>, caf::reacts_to<poke_atom>,
                                    caf::replies_to<drain_atom>::with<bool>,
                                    // issue 10 (polish): a woken parked job, claim at once.
                                    caf::reacts_to<wake_atom>>;

/// What a pool is told when spawned.
struct pool_config {
  std::string type;
  /// Lease owner of every job the pool claims (`node@incarnation/type.N`, N counting the
  /// pool's restarts): renewed by the supervisor, expired if the pool dies.
  std::string owner;
  storage::action_filter actions;
  int workers = 0;
  /// At most this many jobs per claim.
  int batch = 8;
  time_ms lease_ms = 30000;
  time_ms poll_interval_ms = 250;
  time_ms idle_poll_max_ms = 2000;
  /// A worker slot restarted more than this often within `restart_window_ms` is given up.
  int max_restarts = 5;
  time_ms restart_window_ms = 60000;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<job_handler> handler;
  std::shared_ptr<const ab::clock> clk;
  /// While it says the node's clock is off the database's, the pool claims nothing (it still
  /// hands back what its workers finished); null: the clock is trusted.
  std::shared_ptr<const clock_check> clock_ok;
  /// Told of counts and of chains moving on; may be null.
  pool_parent_actor parent;
  /// The leases this pool holds, kept up to date by the pool for whoever renews them (the
  /// supervisor); may be null.
  std::shared_ptr<held_leases> held;
};

/// Spawns a pool (its claimer and workers detached) that starts claiming at once.
pool_actor spawn_pool(caf::actor_system& sys, pool_config config);

}  // namespace ab::actors
