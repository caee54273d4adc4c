#pragma once

#include <memory>
#include <string>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock_check.hpp"
#include "actors/handler.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// A worker of one job type: claims batches from the site database, runs each job's handler
/// and completes, fails, parks or defers it. A job finished in the middle of a batch is
/// committed at once on a thread of the worker's own (the last one with the next claim), so
/// that its chain never waits behind the worker's next job. Runs detached (its own thread):
/// handlers and store calls may block it, never the scheduler.
using worker_actor = caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<run_atom>,
                                      caf::reacts_to<drain_atom>,
                                      caf::reacts_to<filter_atom, storage::action_filter>>;

/// What a worker is told when spawned.
struct worker_config {
  std::string type;
  /// Lease owner name, unique per worker incarnation (`node@incarnation/type#slot.restart`).
  std::string owner;
  storage::action_filter actions;
  int batch = 8;
  time_ms lease_ms = 30000;
  /// First pause after an empty claim; it doubles with each further empty claim up to
  /// `idle_poll_max_ms`, so that idle nodes do not load the database, and resets on work.
  time_ms poll_interval_ms = 250;
  time_ms idle_poll_max_ms = 2000;
  /// When the store cannot take a finished job, the worker tries again this often.
  time_ms flush_after_ms = 100;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<job_handler> handler;
  std::shared_ptr<const ab::clock> clk;
  /// While it says the node's clock is off the database's, the worker claims nothing (it
  /// still hands back what it finished); null: the clock is trusted.
  std::shared_ptr<const clock_check> clock_ok;
};

/// Spawns a detached worker; it starts claiming at once and stops after `drain_atom`.
worker_actor spawn_worker(caf::actor_system& sys, worker_config config);

}  // namespace ab::actors
