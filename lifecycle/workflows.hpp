#pragma once

#include <map>
#include <string>
#include <vector>

#include "storage/types.hpp"

namespace ab::actors {

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

/// The chain of `action` as job specs, or empty if the action is unknown.
std::vector<storage::job_spec> chain_of(const std::string& action);

}  // namespace ab::actors
