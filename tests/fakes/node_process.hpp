#pragma once

// Runs `ab-node` as a child process for integration tests.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ab::testing {

/// An `ab-node` child process; killed (SIGKILL) by the destructor if still running.
class node_process {
 public:
  /// Starts `binary args...` with stdout and stderr going to `log_path`, and waits until it
  /// prints the address it listens on (`http://` or `https://`). `ok()` tells whether that
  /// happened.
  node_process(const std::string& binary, const std::vector<std::string>& args,
               std::string log_path);
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  /// The exit code of a process that ended before it listened; -1 otherwise.
  int early_exit_code() const { return early_exit_; }
  /// Everything the process printed so far.
  std::string output() const;
  /// Sends SIGTERM and waits for the exit; returns the exit status, or -1 on timeout/signal.
  int terminate(int timeout_s = 60);
  /// Sends SIGKILL and reaps the process.
  void kill();
  /// Sends `sig` (e.g. SIGHUP).
  void signal(int sig) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int early_exit_ = -1;
  std::string log_path_;
};

/// An HTTP answer as a test sees it.
struct http_answer {
  int status = 0;
  std::string headers;
  std::string body;
};

/// One HTTP/1.1 call to 127.0.0.1:`port` on a fresh connection; status 0 when it failed.
http_answer http_call(int port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& extra_headers = "");

/// `GET path` on 127.0.0.1:`port`; returns "STATUS BODY" or an empty string on failure.
std::string http_get(int port, const std::string& path);

}  // namespace ab::testing
