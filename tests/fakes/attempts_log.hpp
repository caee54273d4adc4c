// The simulated handlers' attempts log (`--attempts-log`): one line per attempt that ran to its
// end, read by the multi-process tests that check a job ran once, in order, on which node.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::testing {

/// One line of the log: an attempt that ran to its end.
struct attempt {
  storage::job_id job;
  int number;
  std::string node, type;
  time_ms start, end;
};

/// The attempts in `log` so far (none when it does not exist yet).
inline std::vector<attempt> read_attempts(const std::filesystem::path& log) {
  std::vector<attempt> out;
  std::ifstream in{log};
  attempt a;
  while (in >> a.job >> a.number >> a.node >> a.type >> a.start >> a.end) out.push_back(a);
  return out;
}

}  // namespace ab::testing
