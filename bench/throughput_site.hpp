#pragma once

// The deployment that ab-bench-throughput measures, on loopback: one site whose nodes share a
// private MariaDB, behind ab-router (and HAProxy in front of two routers, if asked), with an
// ab-bmcsim fleet at zero simulated latency. Every process is a child of the calling thread,
// stopped by PID.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/haproxy_process.hpp"
#include "harness/mariadb_server.hpp"
#include "harness/server_process.hpp"

namespace ab::bench {

/// What the deployment is made of.
struct site_spec {
  /// The directory for the processes' files (logs, the database, the secret).
  std::filesystem::path dir;
  /// Where ab-node, ab-router and ab-bmcsim are.
  std::filesystem::path bin;
  /// The HAProxy sample config; used with `haproxy`.
  std::string haproxy_template;
  /// An existing MySQL database to use (`mysql://…`); empty: a private MariaDB in `dir`.
  std::string store;
  int nodes = 2;
  /// HAProxy (the project's sample config) in front of two routers; otherwise one router.
  bool haproxy = false;
  /// Options every node gets after those the deployment needs.
  std::vector<std::string> node_options;
};

/// A process of the deployment, for its CPU time and memory.
struct process_ref {
  std::string name;
  pid_t pid = -1;
};

/// The processes of a site, started in order: database, fleet, routers, nodes, HAProxy.
class throughput_site {
 public:
  /// Starts everything and waits until every router sees every node; `ok()` tells whether it
  /// all came up, `failure()` says what did not.
  explicit throughput_site(site_spec spec);
  ~throughput_site();
  throughput_site(const throughput_site&) = delete;
  throughput_site& operator=(const throughput_site&) = delete;

  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  /// The port clients call: HAProxy's, or the router's.
  int api_port() const;
  /// The site's database URL.
  const std::string& store_url() const { return store_; }
  /// The fleet's port (`/bmc/NAME`, `/sim/stats`).
  int bmcsim_port() const { return bmcsim_ ? bmcsim_->port() : 0; }
  /// Every process, named (`mariadb`, `bmcsim`, `router1`, `n1`, `haproxy`, ...).
  std::vector<process_ref> processes() const;
  /// Stops the nodes first (they drain), then the rest.
  void stop();

 private:
  bool start_routers();
  bool start_nodes();
  bool wait_for_nodes();

  site_spec spec_;
  std::string failure_;
  std::string store_;
  std::string secret_file_;
  std::unique_ptr<harness::mariadb_server> db_;
  std::unique_ptr<harness::server_process> bmcsim_;
  std::vector<std::unique_ptr<harness::server_process>> routers_;
  std::vector<std::unique_ptr<harness::server_process>> nodes_;
  std::unique_ptr<harness::haproxy_process> lb_;
};

}  // namespace ab::bench
