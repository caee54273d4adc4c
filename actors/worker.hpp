#pragma once

#include <memory>
#include <string>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/handler.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// A worker of one job type: runs one claimed job at a time, as its pool hands them out, and
/// answers what became of it. A failure, a deferral or a park it records in the store itself; a
/// finished job it hands back to its pool, whose next claim commits it. Runs detached (its own
/// thread): handlers and store calls may block it, never the scheduler. A `worker_crash` thrown
/// by the handler ends it (the pool sees it go down and fails the attempt).
using worker_actor =
    caf::typed_actor<caf::replies_to<run_atom, storage::claimed_job>::with<job_report>>;

/// What a worker is told when spawned.
struct worker_config {
  /// For the log: `node@incarnation/type#slot.restart`.
  std::string name;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<job_handler> handler;
};

/// Spawns a detached worker.
worker_actor spawn_worker(caf::actor_system& sys, worker_config config);

}  // namespace ab::actors
