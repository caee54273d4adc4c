#pragma once

// A server program of the project (ab-node, ab-bmcsim) run as a child process by a test or a
// benchmark.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ab::harness {

/// A server child process that prints `listening on http(s)://HOST:PORT` once it serves;
/// killed (SIGKILL) by the destructor if still running.
class server_process {
 public:
  /// Starts `binary args...` with its standard output and error in `log_path` (emptied first),
  /// and waits up to 30 s until it prints the address it listens on. `ok()` tells whether that
  /// happened.
  server_process(const std::string& binary, const std::vector<std::string>& args,
                 std::string log_path);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// True if it listens.
  bool ok() const { return port_ != 0; }
  /// The port it listens on, or 0 if it did not come up.
  int port() const { return port_; }
  /// Its process id while it runs; -1 once it ended.
  pid_t pid() const { return pid_; }
  /// The exit code of a process that ended before it listened; -1 otherwise.
  int early_exit_code() const { return early_exit_; }
  /// Everything the process printed so far.
  std::string output() const;
  /// Sends SIGTERM and waits for the exit (SIGKILL after `timeout_s`); returns the exit code,
  /// or -1 on timeout or signal, or if it was not running.
  int terminate(int timeout_s = 60);
  /// `terminate()` without the exit code; idempotent.
  void stop() { terminate(); }
  /// Sends SIGKILL and reaps the process; idempotent.
  void kill();
  /// Sends `sig` (e.g. SIGHUP, SIGSTOP).
  void signal(int sig) const;
  /// Its resident memory now, in MiB.
  double rss_mb() const;
  /// The user plus system CPU time it has used so far, in seconds.
  double cpu_seconds() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int early_exit_ = -1;
  std::string log_path_;
};

}  // namespace ab::harness
