#pragma once

// Starting and stopping the server processes that test fixtures run (slapd, ipmi_sim).

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ab::testing {

/// Starts `args` (args[0] found on PATH) with its output appended to `log_path`. The child
/// gets SIGKILL when the calling thread dies, so a crashed test leaves no process behind.
pid_t spawn_child(const std::vector<std::string>& args, const std::string& log_path);

/// True once `pid` has exited (and is reaped); its wait status in `status` if given.
bool reaped(pid_t pid, int* status = nullptr);

/// The exit code of `pid`, waiting up to `limit`; -1 if it died of a signal or had to be
/// killed.
int wait_exit(pid_t pid, std::chrono::milliseconds limit);

/// Stops `pid` (SIGCONT first, as a paused process would not act on SIGTERM; then SIGTERM,
/// and SIGKILL after `limit`) and reaps it.
void stop_child(pid_t pid, std::chrono::milliseconds limit);

/// A loopback port nobody uses right now (the kernel's choice for port 0), for a socket of
/// `type` (SOCK_STREAM or SOCK_DGRAM).
int free_port(int type);

/// The whole content of the file at `path` ("" if it cannot be read).
std::string read_text(const std::string& path);

}  // namespace ab::testing
