#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ab::actors {

/// How an action moves a host through its lifecycle: new → discovered → ready → provisioning →
/// in_service → wiping → decommissioned, with a failed state beside each step.
struct transition {
  /// States the host must be in for the action to be accepted; empty = any but
  /// `decommissioned`.
  std::vector<std::string> from;
  /// The host's state while the request is active, once it succeeded, once it failed (empty:
  /// unchanged).
  std::string during, on_success, on_failure;
};

/// Every lifecycle state, in order.
const std::vector<std::string>& lifecycle_states();

/// The transition of `action`, or nullopt for an action without one (simulated actions).
std::optional<transition> transition_of(const std::string& action);

/// Why `action` may not run on a host in `state`, or nullopt if it may.
std::optional<std::string> refusal(const std::string& action, const std::string& state);

}  // namespace ab::actors
