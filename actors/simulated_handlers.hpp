#pragma once

#include <memory>
#include <string>

#include "actors/handler.hpp"
#include "core/clock.hpp"

namespace ab::actors {

/// Settings of the simulated job types.
struct simulation_options {
  /// How long a `sim.step` job takes.
  time_ms step_ms = 20;
  /// If set, every attempt appends a line `job attempt node type start_ms end_ms` to this file
  /// (with O_APPEND, so several nodes can share it): tests read it to prove exactly-once runs.
  std::string log_path;
  std::string node_id;
  std::shared_ptr<const ab::clock> clk;
};

/// Registers job types that act on nothing, for tests and demos until the BMC workflows land:
/// `sim.noop` (done at once), `sim.step` (takes `step_ms`), `sim.flaky` (first attempt fails,
/// retryably), `sim.crash` (first attempt takes its worker down), `sim.fail` (fails for good),
/// `sim.wait` (parks on the event `sim:HOST` for up to a minute, then completes with the
/// event's payload).
void register_simulated_handlers(handler_registry& registry, const simulation_options& options);

}  // namespace ab::actors
