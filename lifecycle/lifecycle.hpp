#pragma once

// The host state machine: the states as one enum, the transitions of the actions as one table.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ab::lifecycle {

/// Where a host is in its life: new → discovered → ready → provisioning → in_service →
/// wiping → decommissioned, with a failed state beside each step.
enum class state {
  /// `new`: registered, nothing known of it yet.
  new_,
  discovered,
  discovery_failed,
  ready,
  provisioning,
  provisioning_failed,
  in_service,
  wiping,
  wipe_failed,
  decommissioned,
};

/// The state's name as stored and shown (`new`, `in_service`, …).
std::string_view to_string(state s);

/// The state called `name`, or nullopt.
std::optional<state> state_named(std::string_view name);

/// Every state, in order.
const std::vector<state>& every_state();

/// How an action moves a host through its lifecycle.
struct transition {
  /// The states the host must be in for the action to be accepted.
  std::vector<state> from;
  /// The host's state while the request is active, once it succeeded, once it failed or was
  /// cancelled after it started (nullopt: unchanged).
  std::optional<state> during, on_success, on_failure;
};

/// The transition of `action`, or null for an action outside the lifecycle (simulated
/// actions).
const transition* transition_of(const std::string& action);

}  // namespace ab::lifecycle
