#pragma once

// The retention service: prunes old finished requests and audit entries.

#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/supervisor.hpp"
#include "storage/retention_store.hpp"

namespace ab::actors {

/// Prunes what `keep` lets go (`store::prune`) at start and every `interval_ms`, in batches
/// of a few hundred rows per transaction, on every node (pruning is safe to run concurrently).
using pruner_actor = caf::typed_actor<caf::reacts_to<prune_atom>>;

/// Spawns the pruner; a `keep` of all zeros keeps everything and makes it idle.
pruner_actor spawn_pruner(caf::actor_system& sys, std::shared_ptr<storage::retention_store> store,
                          storage::retention keep, time_ms interval_ms);

/// The pruner as a supervised service (`pruner`).
service_spec pruner_service(std::shared_ptr<storage::retention_store> store,
                            storage::retention keep, time_ms interval_ms);

}  // namespace ab::actors
