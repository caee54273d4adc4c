#pragma once

// A whole AutoBuild deployment on loopback, built from a small spec: HAProxy (the sample
// config, deploy/haproxy/haproxy.cfg) in front of N ab-router processes, in front of sites,
// each with its own database (embedded SQLite, a private MariaDB, or a private Galera
// cluster), its own ab-bmcsim fleet and ab-node processes in named clusters. The nodes
// announce themselves with their own heartbeat sender. Used by ab-e2e (faults and
// invariants) and the throughput benchmark; tests may use it too.
//
// Child processes die with the thread that started them (PR_SET_PDEATHSIG): construct the
// deployment, and call its fault verbs, from one thread that outlives them (the main one).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/http_exchange.hpp"

namespace ab::harness {

class galera_cluster;
class haproxy_process;
class mariadb_server;
class server_process;

/// The database a site's nodes share.
enum class site_database { sqlite, mariadb, galera };

/// One site of a deployment.
struct site_spec {
  /// The site's name (`--site`), e.g. `dc-a`; also the prefix of its hosts' names.
  std::string name;
  /// Its number (`--site-id`): request ids are `id * 10^12 + n`.
  std::int64_t id = 1;
  site_database database = site_database::mariadb;
  /// Simulated BMCs of the fleet, created at start and registered as hosts
  /// `<name>-h0000` ... (BMC ids the same), credential `env:AB_BMC_DEPLOYMENT`.
  std::size_t hosts = 10;
  /// Extra ab-bmcsim options (e.g. `--time-scale 0`).
  std::vector<std::string> bmcsim_args;
  /// Nodes per cluster of the site's cluster map, e.g. {{"build",1},{"discover",1},{"others",1}};
  /// each node is `<name>-<cluster>-<n>`.
  std::map<std::string, int> nodes{{"all", 1}};
  /// The site's cluster map: cluster name → actions (JSON array text, e.g. `["reimage"]`).
  /// Empty: one cluster `all` serving every action, and every other cluster named in `nodes`
  /// gets the sample map's actions (build: reimage; discover: discover, build; others: *).
  std::map<std::string, std::string> clusters;
  /// Extra ab-node options of every node of the site.
  std::vector<std::string> node_args;
};

/// What to start.
struct deployment_spec {
  /// Where ab-node, ab-router and ab-bmcsim are (a build's bin/).
  std::string binary_dir;
  /// The checkout: deploy/haproxy/haproxy.cfg, scripts/galera, deploy/galera.
  std::string source_dir;
  /// The deployment's files (logs, stores, configs); "" makes one under the temp directory,
  /// removed by the destructor unless `keep_dir`. Must be traversable by the `mysql` user for
  /// a Galera site.
  std::string dir;
  bool keep_dir = false;
  /// ab-router processes; HAProxy needs exactly 2 (its sample config names two).
  int routers = 2;
  /// HAProxy in front of the routers (needs `routers == 2`).
  bool haproxy = true;
  /// Extra ab-router options (e.g. `--freshness-ms 3000`).
  std::vector<std::string> router_args;
  /// Installers call back through the entry point (`url()`: HAProxy, or router 0 without it)
  /// rather than the node that started the install, as a deployment should: a callback then
  /// reaches a live node of the site (the router routes it by request id) even when that node
  /// died or came back on another port.
  bool callbacks_through_entry = false;
  /// How often the nodes announce themselves to the routers.
  int heartbeat_interval_ms = 500;
  std::vector<site_spec> sites;
  /// The header line (`Authorization: Bearer TOKEN\r\n`) of the deployment's own API calls
  /// (registering hosts, placing a new node in its cluster) when the nodes run with a policy.
  std::string api_auth;
};

/// One process of the deployment, for CPU and memory figures.
struct process_info {
  /// E.g. `router-0`, `node dc-a-build-1`, `bmcsim dc-a`, `mariadb dc-a`, `haproxy`.
  std::string name;
  pid_t pid = -1;
};

/// A running deployment; everything it started is stopped by the destructor.
class deployment {
 public:
  /// Starts everything in `spec` and waits until every router sees every node and HAProxy
  /// sees every router up, and the hosts are registered. `ok()` tells whether that happened,
  /// `error()` why not.
  explicit deployment(deployment_spec spec);
  ~deployment();
  deployment(const deployment&) = delete;
  deployment& operator=(const deployment&) = delete;

  bool ok() const { return error_.empty(); }
  /// Why the start or the last verb failed ("" if it did not).
  const std::string& error() const { return error_; }
  const deployment_spec& spec() const { return spec_; }
  const std::string& dir() const { return dir_; }

  // --- where things are ---------------------------------------------------------------------

  /// The port clients use: HAProxy's, or the first router's without HAProxy.
  int port() const;
  /// `http://127.0.0.1:PORT` of `port()`.
  std::string url() const;
  /// Router `i`'s port (0 while it is down).
  int router_port(int i) const;
  /// The routers' `HOST:PORT`s (kept across restarts).
  std::vector<std::string> router_addresses() const;
  /// The store URL of site `site`'s nodes (`sqlite:PATH` or `mysql://...`; through the
  /// cluster's HAProxy for Galera).
  std::string store_url(const std::string& site) const;
  /// Site `site`'s ab-bmcsim port.
  int bmcsim_port(const std::string& site) const;
  /// Site `site`'s host names (`<site>-h0000` ...), which are also their BMC ids.
  std::vector<std::string> hosts(const std::string& site) const;
  /// Every node id of `site` ever started, running or not.
  std::vector<std::string> nodes(const std::string& site) const;
  /// The cluster node `id` was started in.
  std::string cluster_of(const std::string& id) const;
  /// The site of node `id`.
  std::string site_of(const std::string& id) const;
  /// Node `id`'s port (0 while it is down) and pid (-1 while down).
  int node_port(const std::string& id) const;
  pid_t node_pid(const std::string& id) const;
  bool node_running(const std::string& id) const;
  /// The Galera cluster of `site`, or null if the site has none.
  galera_cluster* galera(const std::string& site) const;
  /// Every running process with a name, for CPU and memory figures.
  std::vector<process_info> processes() const;
  /// The log file of node `id`'s current process (`node-ID.N.log`, N counting its starts).
  std::string node_log(const std::string& id) const;

  // --- fault verbs (each returns false, with `error()` set, if it did not work) -------------

  /// SIGKILLs node `id`.
  bool kill_node(const std::string& id);
  /// Starts node `id` again (same id, new port), after killing it if it still runs; waits until
  /// it serves.
  bool restart_node(const std::string& id);
  /// Starts a new node of `site` in `cluster` (id `<site>-<cluster>-<n>` with a fresh n);
  /// returns its id, "" on failure.
  std::string add_node(const std::string& site, const std::string& cluster);
  /// Sends `sig` to node `id` (e.g. SIGHUP: reload the policy and the cluster map).
  bool signal_node(const std::string& id, int sig);
  /// SIGKILLs router `i`.
  bool kill_router(int i);
  /// Starts router `i` again on its old port.
  bool restart_router(int i);
  /// Galera: SIGKILLs database node `n` (1..3) of `site`. MariaDB: SIGKILLs the server.
  bool kill_database(const std::string& site, int n = 1);
  /// Galera: restarts database node `n` until Synced. MariaDB: starts the server again on
  /// its port and data. SQLite: nothing to do.
  bool restart_database(const std::string& site, int n = 1);

  /// Waits up to `limit` until every router sees exactly the running nodes as live; true if so.
  bool wait_for_routers(std::chrono::milliseconds limit);
  /// Stops everything (nodes first, with SIGTERM); idempotent.
  void stop();

 private:
  struct site_state;
  struct node_state;

  bool start_site(site_spec& s);
  bool start_node(node_state& n);
  bool start_router_process(int i);
  bool register_hosts(const site_state& s);
  std::vector<std::string> node_args(const node_state& n) const;
  bool fail(std::string why);
  site_state* find_site(const std::string& name) const;

  deployment_spec spec_;
  std::string dir_;
  bool own_dir_ = false;
  std::string error_;
  std::string secret_file_;
  std::vector<int> router_ports_;
  std::vector<std::unique_ptr<server_process>> routers_;
  std::unique_ptr<haproxy_process> lb_;
  std::vector<std::unique_ptr<site_state>> sites_;
  std::map<std::string, std::unique_ptr<node_state>> nodes_;
};

/// The name of a site's host number `n`: `<site>-h` and 4 digits (more past 9999).
std::string host_name(const std::string& site, std::size_t n);

}  // namespace ab::harness
