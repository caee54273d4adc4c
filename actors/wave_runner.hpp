#pragma once

// The wave runner: the node's service that advances the site's wave plans
// (`lifecycle::wave_engine`), one node of the site at a time through the wave lease.

#include <memory>
#include <string>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/supervisor.hpp"
#include "lifecycle/waves.hpp"

namespace ab::actors {

/// Runs one round of the wave engine at start and every `interval_ms` (its own `tick_atom`).
using wave_runner_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

/// The wave runner as a supervised service (`wave_runner`): `owner` (the node id) names this
/// node in the wave lease, which lasts three intervals, so that another node takes over soon
/// after this one stops.
service_spec wave_runner_service(std::shared_ptr<storage::store> store,
                                 std::shared_ptr<const lifecycle::rules> rules,
                                 std::shared_ptr<const ab::clock> clk, std::string owner,
                                 time_ms interval_ms);

}  // namespace ab::actors
