#pragma once

// Child processes of a test or a benchmark: started, watched and stopped by PID.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ab::harness {

/// Starts `argv` (argv[0] a path, or a name found on PATH) with its standard output and error
/// appended to `log_path`. The child gets SIGKILL when the calling thread dies, so a crashed
/// test or benchmark leaves no process behind.
pid_t spawn_child(const std::vector<std::string>& argv, const std::string& log_path);

/// Starts `binary args...` as `spawn_child` does.
pid_t spawn_child(const std::string& binary, const std::vector<std::string>& args,
                  const std::string& log_path);

/// True once `pid` has exited (and is reaped); its wait status in `status` if given.
bool reaped(pid_t pid, int* status = nullptr);

/// The exit code of `pid`, waiting up to `limit`; -1 if it died of a signal or had to be
/// killed (SIGKILL, then reaped) because it did not exit in time.
int wait_exit(pid_t pid, std::chrono::milliseconds limit);

/// Stops `pid` (SIGCONT first, as a paused process would not act on SIGTERM; then SIGTERM,
/// and SIGKILL after `limit`) and reaps it; returns its exit code as `wait_exit` does.
int stop_child(pid_t pid, std::chrono::milliseconds limit);

/// A loopback port nobody uses right now (the kernel's choice for port 0), for a socket of
/// `type` (SOCK_STREAM or SOCK_DGRAM).
int free_port(int type);

/// The whole content of the file at `path` ("" if it cannot be read).
std::string read_text(const std::string& path);

/// Writes `secret` (and a newline) to `dir`/`name` with mode 600; returns its path.
std::string write_secret_file(const std::string& dir, const std::string& secret,
                              const std::string& name = "hb.secret");

/// Polls `done` every 20 ms until it holds or `limit` passes; true if it held. For waiting
/// on processes: a generous bound, never a timing assertion.
bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

/// The resident memory of `pid` now, in KiB (0 if it cannot be read).
long rss_kb(pid_t pid);

/// The resident memory of `pid` now, in MiB.
double rss_mb(pid_t pid);

/// The user plus system CPU time `pid` has used so far, in seconds.
double cpu_seconds(pid_t pid);

}  // namespace ab::harness
