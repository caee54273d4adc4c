#pragma once

// The benchmarks' start-up check: a database that still holds active requests for a
// benchmark's host names (left by an earlier run: interrupted, or parked by it) would keep those
// hosts busy, so that the benchmark's own submissions are refused and it waits for them forever.

#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "storage/job_queue.hpp"

namespace ab::bench {

/// Removes every `flag` from `argc`/`argv`; true when there was one.
bool take_flag(int& argc, char** argv, const std::string& flag);

/// The active (queued or running) requests of hosts whose names start with one of `prefixes`.
caf::expected<std::vector<storage::request_view>> leftover_requests(
    storage::job_queue& db, const std::vector<std::string>& prefixes);

/// True when the benchmark `program` may go on: no leftover requests for its hosts, or, with
/// `reset`, they were cancelled. Otherwise prints why it stops (how many, an example, and to
/// use a fresh database or `--reset`) and returns false.
bool clear_leftovers(storage::job_queue& db, const std::vector<std::string>& prefixes, bool reset,
                     const std::string& program);

}  // namespace ab::bench
