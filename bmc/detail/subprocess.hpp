#pragma once

// Runs a program to completion with a hard deadline, without a shell.

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace ab::bmc::detail {

/// How a child process ended and what it printed.
struct run_result {
  /// The exit status, or -1 if a signal ended the child.
  int exit_code = -1;
  /// True if the child outlived its deadline and was killed (SIGKILL).
  bool timed_out = false;
  /// Standard output and standard error, each cut at `output_limit` bytes.
  std::string out, err;
};

/// The most output kept per stream; the rest is read and dropped.
inline constexpr std::size_t output_limit = 1 << 20;

/// Runs `argv` (`argv[0]` a path, never looked up in a shell) with exactly the environment
/// `env` (`NAME=value` entries), stdin from /dev/null and both outputs captured through pipes.
/// If it has not ended after `timeout`, it is killed with SIGKILL; either way it is reaped
/// before this returns. Fails (`errc::unavailable`) only if the child cannot be started.
/// Thread-safe: every descriptor it opens is close-on-exec.
caf::expected<run_result> run(const std::vector<std::string>& argv,
                              const std::vector<std::string>& env,
                              std::chrono::milliseconds timeout);

}  // namespace ab::bmc::detail
