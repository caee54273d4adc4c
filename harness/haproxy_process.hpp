#pragma once

// HAProxy (Debian's haproxy) run by a test or a benchmark on loopback: a config generated from
// the project's sample (deploy/haproxy/haproxy.cfg) in a directory of its own, the process
// watched and stopped by PID, and its admin socket asked for the servers' state.

#include <sys/types.h>

#include <map>
#include <string>

namespace ab::harness {

/// `text` with each `${NAME}` or `${NAME-default}` whose NAME is in `values` replaced by its
/// value (the way HAProxy expands its environment variables); the others stay as they are.
std::string render_haproxy_config(const std::string& text,
                                  const std::map<std::string, std::string>& values);

/// A haproxy process on a free loopback port; killed (SIGKILL) by the destructor if running.
class haproxy_process {
 public:
  /// Writes `dir`/haproxy.cfg from the template at `template_path` with `values` (AB_LB_BIND
  /// and AB_LB_STATS are set here to a free 127.0.0.1 port and `dir`/stats.sock, or a socket
  /// under /tmp when that path is too long for HAProxy), checks it
  /// (`haproxy -c`), starts `haproxy -db -f` with its output in `dir`/haproxy.log, and waits
  /// up to 10 s until it accepts connections. `ok()` tells whether that happened.
  haproxy_process(const std::string& template_path, std::map<std::string, std::string> values,
                  const std::string& dir);
  ~haproxy_process();
  haproxy_process(const haproxy_process&) = delete;
  haproxy_process& operator=(const haproxy_process&) = delete;

  /// True if it listens.
  bool ok() const { return port_ != 0; }
  /// The port clients connect to, or 0 if it did not come up.
  int port() const { return port_; }
  /// Its process id while it runs; -1 once it ended.
  pid_t pid() const { return pid_; }
  /// What it printed so far (the config check's output first).
  std::string output() const;
  /// One command on the admin socket (e.g. `show stat`); its answer, "" if it could not ask.
  std::string admin(const std::string& command) const;
  /// `status` of server `server` of backend `backend` in `show stat` ("UP", "DOWN",
  /// "UP 1/2", ...), or "" if not found.
  std::string server_status(const std::string& backend, const std::string& server) const;
  /// Column `field` of server `server` of backend `backend` in `show stat` (e.g. "stot", the
  /// sessions sent to it so far), or "" if not found.
  std::string server_field(const std::string& backend, const std::string& server,
                           const std::string& field) const;
  /// Sends SIGTERM (SIGKILL after 10 s) and reaps it; returns 0 if it ended on the SIGTERM,
  /// its exit code if it exited, -1 otherwise. Idempotent.
  int stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  std::string stats_path_;
};

/// The haproxy binary: `AB_HAPROXY` if set, else /usr/sbin/haproxy if present, else `haproxy`
/// on PATH.
std::string haproxy_binary();

}  // namespace ab::harness
