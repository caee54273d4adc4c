#pragma once

// The workflow table: the job chain of every action, and what each job type needs of the
// host's BMC.

#include <map>
#include <string>
#include <vector>

#include "bmc/capability.hpp"
#include "storage/types.hpp"

namespace ab::lifecycle {

/// One step of a workflow: the job type that performs it, and its retry and time limits.
struct step {
  std::string type;
  int max_attempts;
  time_ms timeout_ms;
};

/// The job chain of every action a user can ask for, in one table that reads as the
/// documentation of what each action does. The BMC handlers of these job types come with the
/// BMC layer; `sim.*` actions run the simulated job types (tests, demos).
const std::map<std::string, std::vector<step>>& workflows();

/// Every job type of the workflows and the BMC capabilities (interfaces) it uses; a job type
/// that does not touch the BMC needs none.
const std::map<std::string, bmc::capability_set>& job_types();

/// The chain of `action` as job specs, or empty if the action is unknown.
std::vector<storage::job_spec> chain_of(const std::string& action);

/// What the chain of `action` needs of the host's BMC: the union of its job types' needs.
bmc::capability_set needs_of(const std::string& action);

}  // namespace ab::lifecycle
