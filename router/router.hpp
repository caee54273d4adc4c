#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "auth/authenticator.hpp"
#include "core/clock.hpp"
#include "core/ip_networks.hpp"
#include "net/api/failure_limiter.hpp"
#include "net/http/server.hpp"
#include "router/node_client.hpp"
#include "router/node_table.hpp"
#include "router/site_rules.hpp"

namespace ab::router {

/// What the router's HTTP front needs beyond the node table and the client.
struct router_options {
  /// The deployment's heartbeat secret (`cluster::read_secret_file`).
  std::string heartbeat_secret;
  /// Most difference between a heartbeat's `sent_at_ms` and the router's clock.
  time_ms max_skew_ms = 60000;
  /// Proxied calls served at once; one more is answered 429 with Retry-After at once.
  std::size_t max_in_flight = 4096;
  /// Proxied calls of one client address served at once; one more is answered 429 at once.
  std::size_t max_in_flight_per_client = 256;
  /// Peers whose `X-Forwarded-For` names the client (its last entry): the load balancers in
  /// front of the router. From any other peer the header is ignored.
  ip_networks trusted_proxies;
  /// Names the site of a host that no site's inventory shows.
  hostname_rules rules;
  /// How long a host → site answer of the inventory is kept (0: never).
  time_ms host_cache_ms = 30000;
  /// Inventory look-ups of one call in flight at once.
  std::size_t lookup_parallelism = 32;
  /// The nodes' access policy: `GET /v1/cluster` answers callers with `read` only (bearer
  /// tokens; directory logins are the nodes' business). Null: that view is open.
  std::shared_ptr<auth::authenticator> auth;
  /// Failed authentications per source address at `GET /v1/cluster`, as a node counts them.
  net::failure_limits failures;
  /// The bearer token `GET /metrics` asks for (router option `metrics_token_file`); empty:
  /// `/metrics` is not served (404).
  std::string metrics_token;
  /// Wall clock for heartbeats, monotonic for the cache; null: the system clocks.
  std::shared_ptr<const ab::clock> clock;
};

/// Counters the router shows under `GET /v1/cluster`.
struct router_counters {
  std::atomic<std::int64_t> heartbeats_accepted{0};
  std::atomic<std::int64_t> heartbeats_refused{0};
  std::atomic<std::int64_t> shed{0};
  std::atomic<std::int64_t> failovers{0};
};

/// The router's HTTP front: `POST /v1/heartbeats`, `GET /healthz`, `GET /v1/cluster`, and every
/// other `/v1/` call proxied to a live node of the site it belongs to (docs/router.md). It
/// never blocks an I/O thread: heartbeats go to the node table's actor, calls pick a node from
/// the table's published snapshot (`table_board`) in the I/O thread, and the nodes are called
/// through the asynchronous `node_client`, on that same thread.
class router_service {
 public:
  /// `board` is the one `table` publishes to.
  router_service(caf::actor_system& sys, node_table_actor table, std::shared_ptr<table_board> board,
                 std::shared_ptr<node_client> client, router_options options);
  ~router_service();
  router_service(const router_service&) = delete;
  router_service& operator=(const router_service&) = delete;

  /// The HTTP handler.
  void handle(net::http_request&& req, net::responder respond);

  /// The routes the router answers itself, as "METHOD /path".
  static std::vector<std::string> own_routes();

  const router_counters& counters() const { return *counters_; }

  /// Adds `delta` to the router server's open connections
  /// (`net::server_options::connections_changed`).
  void connections_changed(int delta);

  /// Reads the heartbeat secret again from `path` (`cluster::read_secret_file`) and verifies
  /// heartbeats with it from now on; with the file unusable the secret in use stays and the
  /// error, naming the file and why, is returned.
  caf::error reload_heartbeat_secret(const std::string& path);

  /// Reads the scraper's token again from `path` (`cluster::read_secret_file`) and asks it of
  /// `GET /metrics` from now on; with the file unusable the token in use stays and the error
  /// is returned. A router started without `metrics_token` serves no `/metrics` and ignores it.
  caf::error reload_metrics_token(const std::string& path);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
  std::shared_ptr<router_counters> counters_;
};

}  // namespace ab::router
