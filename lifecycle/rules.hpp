#pragma once

// The one object asked whether an action may run on a host and what its request does: the
// job chain, the lifecycle states it moves the host through, and the BMC capabilities it
// needs. The API plans every submission with it; the store only writes what the plan says.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "bmc/capability.hpp"
#include "lifecycle/lifecycle.hpp"
#include "storage/types.hpp"

namespace ab::lifecycle {

/// What the BMC of a host can do: what its endpoint's driver can ever do, less what the
/// host's discovery found its BMC lacks. An error refuses the request with it.
using capability_lookup =
    std::function<caf::expected<bmc::capability_set>(const storage::host_record& host)>;

/// How a `rules` object judges.
struct rules_options {
  /// Whether requests move hosts through the lifecycle and are refused outside it. Off, every
  /// action is allowed in any state and changes none (for tests of other API rules).
  bool lifecycle = true;
  /// What a host's BMC can do; unset: everything (no capability check).
  capability_lookup capabilities;
};

/// What a request of one action on one host does.
struct request_plan {
  std::string action;
  /// The job chain, in order.
  std::vector<storage::job_spec> chain;
  /// What the chain needs of the host's BMC (the workflow table's job types).
  bmc::capability_set needs;
  /// The host's state the plan was made for; nullopt without lifecycle.
  std::optional<state> from;
  /// The host's state while the request is active, once it succeeded, once it failed (or
  /// was cancelled after it started), once it was cancelled before any job started
  /// (nullopt: unchanged).
  std::optional<state> during, on_success, on_failure, on_withdrawal;

  /// Writes the chain and the host states into `spec`.
  void apply_to(storage::request_spec& spec) const;
};

/// The rules of the lifecycle: the workflow table, the transition table and what each host's
/// BMC can do. Thread-safe (immutable).
class rules {
 public:
  explicit rules(rules_options options = {});

  /// Every action a request may name, sorted.
  const std::vector<std::string>& actions() const { return actions_; }

  /// The plan of `action` on `host`, or why it may not run: `errc::invalid_argument` for an
  /// unknown action, `errc::invalid_state` for a state the action is not allowed from,
  /// `errc::unsupported_by_bmc` for a capability the host's BMC lacks (or the lookup's error).
  /// Every sentence names the host.
  caf::expected<request_plan> plan(const std::string& action,
                                   const storage::host_record& host) const;

 private:
  rules_options options_;
  std::vector<std::string> actions_;
};

}  // namespace ab::lifecycle
