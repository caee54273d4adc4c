#pragma once

// The heartbeat sender: announces this node to every router it is configured with, signed,
// while its own API answers and it is not draining.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/handler.hpp"
#include "actors/supervisor.hpp"
#include "cluster/heartbeat.hpp"
#include "config/node_config.hpp"
#include "core/clock.hpp"
#include "node/router_calls.hpp"

namespace ab::node {

/// What the sender tells `GET /v1/node` about one router.
struct router_stats {
  std::string url;
  /// Heartbeats the router accepted, and calls that failed (no answer, or not 2xx).
  std::int64_t sent = 0;
  std::int64_t failures = 0;
  /// When the router last accepted one (0: never), and why the last call failed (empty: it
  /// did not).
  time_ms last_sent_ms = 0;
  std::string last_error;
};

/// The sender's counters, shared with the node's report. Thread-safe.
class heartbeat_stats {
 public:
  explicit heartbeat_stats(const std::vector<std::string>& routers);

  /// A copy of every router's counters, and whether the last round announced the node (with
  /// why not otherwise).
  struct snapshot {
    std::vector<router_stats> routers;
    bool announcing = false;
    std::string not_announcing_because;
  };
  snapshot read() const;

  /// Records a round that announced the node: one result per router, in their order.
  void announced(const std::vector<call_result>& results, time_ms now);
  /// Records a round that did not announce the node, and why.
  void withheld(std::string why);

 private:
  mutable std::mutex mutex_;
  snapshot state_;
};

/// The deployment's heartbeat secret, read from its file (`heartbeat_secret_file`) and reread
/// on demand (the node does on SIGHUP). Thread-safe.
class heartbeat_secret {
 public:
  /// The secret `secret`, read from `path` ("" when given directly, e.g. by a test).
  heartbeat_secret(std::string path, std::string secret);
  /// Reads the file at `path` (mode 600, at most 4 KiB: `cluster::read_secret_file`).
  static caf::expected<std::shared_ptr<heartbeat_secret>> load(const std::string& path);

  /// The secret in force.
  std::string current() const;
  /// Rereads the file: a good one replaces the secret; with a bad one (missing, mode too open,
  /// empty, too large) the one in force stays, and the error says why.
  caf::error reload();
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable std::mutex mutex_;
  std::string secret_;
};

/// What the rounds of the sender and the drain's announcement share: a round and the
/// announcement never interleave, no round goes out once the node drains, and every heartbeat
/// is strictly newer than the one before (a router ignores one that is not).
struct announce_gate {
  std::mutex mutex;
  bool draining = false;
  std::int64_t last_sent_ms = 0;
};

/// What the supervisor's `status_atom` answers; the sender asks it for the cluster, the
/// workers and whether the node drains.
using status_source =
    caf::typed_actor<caf::replies_to<actors::status_atom>::with<actors::pool_status>>;

/// What the sender is given.
struct heartbeat_sender_config {
  /// Node id, site, site id, API URL and version; cluster, load, in-flight calls and the time
  /// are filled in each round.
  cluster::heartbeat identity;
  /// Router base URLs; each gets `POST /v1/heartbeats`.
  std::vector<std::string> routers;
  /// Read at each round, so that a reloaded secret signs the next heartbeat.
  std::shared_ptr<const heartbeat_secret> secret;
  time_ms interval_ms = 30000;
  /// Deadline of each call, and the CA bundle for HTTPS.
  call_options calls;
  /// Workers busy with a job right now, and API calls being served.
  std::function<std::int64_t()> busy_workers;
  std::function<std::int64_t()> api_in_flight;
  std::shared_ptr<heartbeat_stats> stats;
  std::shared_ptr<const ab::clock> clk;
  /// Shared with `announce_draining`; never null (`spawn_heartbeat_sender` makes one).
  std::shared_ptr<announce_gate> gate = std::make_shared<announce_gate>();
};

/// Whether `cfg.identity` (node id, site, site id, API URL, version) makes a heartbeat a
/// router accepts: a `bad_config` error that says which field does not, checked at start so
/// that such a node refuses to start rather than never being announced.
caf::error check_identity(const heartbeat_sender_config& cfg);

/// One round: checks that `cfg.identity.api_url` answers `/readyz` with 200, then POSTs the
/// signed heartbeat (with `status`'s cluster and load) to every router at once. A draining
/// node, or one whose API does not answer, announces nothing (and logs why once). Blocks for at
/// most two call deadlines.
void announce_once(const heartbeat_sender_config& cfg, const actors::pool_status& status);

/// Tells every router at once that the node drains (protocol 2: a heartbeat with `draining`),
/// so that they send it no new call while it finishes what it has; no round of the sender goes
/// out after it. A node of protocol 1 cannot say so: routers then stop calling it when it stops
/// listening. Blocks for at most one call deadline; true if every router accepted it.
bool announce_draining(const heartbeat_sender_config& cfg, const std::string& cluster);

/// The router heartbeat sender: every `interval_ms` it asks `status` for the node's state and
/// runs `announce_once` (detached: the calls block its own thread only).
using heartbeat_sender_actor = caf::typed_actor<caf::reacts_to<actors::tick_atom>>;

/// Spawns the sender; its first round starts at once.
heartbeat_sender_actor spawn_heartbeat_sender(caf::actor_system& sys, heartbeat_sender_config cfg,
                                              status_source status);

/// The sender as a supervised service (`router_heartbeat`) that asks the supervisor for the
/// node's state.
actors::service_spec heartbeat_sender_service(heartbeat_sender_config cfg);

/// The heartbeats' `load`: busy workers over live workers (0 with none), within 0..1.
double load_of(std::int64_t busy, const actors::pool_status& status);

/// The URL this node announces: `cfg.advertise_url`, else `listen`'s host with `port` (the
/// port it got) and the scheme it serves. A wildcard listen address (0.0.0.0, ::) names no
/// host a router can call: a `bad_config` error asks for `advertise-url`.
caf::expected<std::string> advertised_url(const config::node_config& cfg, std::uint16_t port);

/// Wraps every handler of `handlers` so that `busy` counts the workers running a job.
void count_busy_workers(actors::handler_registry& handlers,
                        std::shared_ptr<std::atomic<std::int64_t>> busy);

}  // namespace ab::node
