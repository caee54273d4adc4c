#pragma once

// A private 3-node MariaDB Galera cluster with HAProxy in front, run by a test or a benchmark
// through scripts/galera (docs/database.md) in a directory of its own: started, its nodes
// killed and restarted, its state read, and stopped, each step bounded in time.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ab::harness {

/// Where and how long.
struct galera_options {
  /// The checkout that holds scripts/galera and deploy/galera.
  std::string source_dir;
  /// The cluster's directory; "" makes a new one under the temp directory, removed by the
  /// destructor. Every parent must be traversable by the `mysql` user.
  std::string dir;
  /// The most `start` may take (its nodes, then HAProxy with a server up).
  std::chrono::seconds start_limit{240};
};

/// The result of one command: its exit code (-1 if it died or had to be killed) and output.
struct command_result {
  int code = -1;
  std::string output;
  bool ok() const { return code == 0; }
};

/// A running cluster (`scripts/galera start`); stopped by the destructor. If the process
/// that made it dies without stopping it, the script's watcher stops it.
class galera_cluster {
 public:
  explicit galera_cluster(galera_options options);
  ~galera_cluster();
  galera_cluster(const galera_cluster&) = delete;
  galera_cluster& operator=(const galera_cluster&) = delete;

  /// True if every node is Synced and HAProxy sends to one of them.
  bool ok() const { return !url_.empty(); }
  /// `mysql://autobuild:PASS@127.0.0.1:PORT/autobuild` through HAProxy ("" if not ok).
  const std::string& url() const { return url_; }
  /// The cluster's directory.
  const std::string& dir() const { return dir_; }
  /// What scripts/galera printed so far.
  const std::string& output() const { return output_; }
  /// HAProxy's port (the URL's), or 0.
  int proxy_port() const;
  /// Node `node`'s own SQL port (1..3), or 0.
  int node_port(int node) const;

  /// SIGKILLs node `node`.
  bool kill(int node);
  /// Starts node `node` again and waits until it is Synced; with `wipe` its datadir is
  /// emptied first, so it rejoins by a full SST.
  bool restart(int node, bool wipe = false);
  /// `scripts/galera status`: each node's wsrep state and the node HAProxy sends to.
  std::string status();
  /// The node HAProxy sends new connections to (1..3), 0 if none is up.
  int writer();
  /// HAProxy's state of node `node` ("UP", "DOWN", "UP 1/2", ...), "" if unknown.
  std::string proxy_state(int node);
  /// Waits up to `limit` until `writer()` is `node` (0: none); true if it came to that.
  bool wait_for_writer(int node, std::chrono::milliseconds limit);
  /// `sql` as root on node `node` over its unix socket; rows tab-separated.
  command_result root_sql(int node, const std::string& sql);
  /// `sql` through HAProxy as the URL's user, in database `autobuild`.
  command_result proxy_sql(const std::string& sql);
  /// Stops everything it started; returns true if that went well. Idempotent.
  bool stop();

 private:
  command_result script(const std::string& command, const std::vector<std::string>& args,
                        std::chrono::seconds limit);
  command_result run(const std::vector<std::string>& argv, std::chrono::seconds limit);
  int port_of(const std::string& key) const;

  galera_options options_;
  std::string dir_;
  bool own_dir_ = false;
  bool running_ = false;
  std::string url_;
  std::string output_;
  int runs_ = 0;
};

}  // namespace ab::harness
