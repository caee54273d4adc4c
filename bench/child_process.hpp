#pragma once

// A server program (ab-node, ab-bmcsim) run by a benchmark as a child process.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ab::bench {

/// Runs `binary args...` with its output in `out_path`, and waits until it prints
/// `listening on http(s)://HOST:PORT`. Stopped (SIGTERM, then waited for) by the destructor.
class child_process {
 public:
  child_process(const std::string& binary, const std::vector<std::string>& args,
                std::string out_path);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The port it listens on, or 0 if it did not come up.
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  /// Resident memory now, in MiB.
  double rss_mb() const;
  /// User plus system CPU time used so far, in seconds.
  double cpu_seconds() const;
  /// Sends SIGTERM and waits; idempotent.
  void stop();

 private:
  pid_t pid_ = 0;
  int port_ = 0;
  std::string out_path_;
};

}  // namespace ab::bench
