#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "router/site_rules.hpp"

namespace ab::router {

/// Everything an `ab-router` process is told at start-up (docs/router.md).
struct router_config {
  /// Where the HTTP listener binds, HOST:PORT.
  std::string listen = "127.0.0.1:8090";
  /// PEM certificate chain and key to serve HTTPS with; both or neither.
  std::string tls_cert;
  std::string tls_key;
  time_ms tls_check_interval_ms = 5000;
  /// The deployment's heartbeat secret (mode 600); required.
  std::string heartbeat_secret_file;
  /// File with the bearer token Prometheus scrapes `GET /metrics` with (mode 600); empty:
  /// `/metrics` answers 404.
  std::string metrics_token_file;
  /// A node whose last heartbeat is older than this is not routed to.
  time_ms freshness_ms = 180000;
  /// A node that refused a connection is left out this long, or until its next heartbeat.
  time_ms set_aside_ms = 5000;
  /// PEM bundle of the CAs that `https://` nodes are verified against (empty: the system's).
  std::string node_ca_file;
  /// Hostname rules, tried in order after the inventory: `hostname_rule` (a regex whose first
  /// capture group is the site) first, then `hostname_rules` (pattern → site).
  std::vector<hostname_rule> hostname_rules;
  /// Proxied calls in flight at once; one more is answered 429 at once.
  std::size_t max_in_flight = 4096;
  /// Proxied calls of one client address in flight at once; one more is answered 429 at once.
  std::size_t max_in_flight_per_client = 256;
  /// Load balancers (IPs/CIDRs) in front of the router: from them the client's address is the
  /// last entry of `X-Forwarded-For`, and their connections are exempt from
  /// `max_connections_per_peer`.
  std::vector<std::string> trusted_proxies;
  /// Connections to one node at most, and calls waiting for one of them.
  std::size_t pool_size = 64;
  std::size_t pool_queue = 1024;
  time_ms connect_timeout_ms = 2000;
  time_ms request_timeout_ms = 30000;
  /// An idle pooled connection older than this is not reused.
  time_ms pool_idle_ms = 15000;
  /// How long the inventory's host → site answers are kept (0: not kept).
  time_ms host_cache_ms = 30000;
  /// I/O threads of the listener and of the client toward the nodes.
  std::size_t server_threads = 2;
  std::size_t client_threads = 2;
  /// Listener limits, as the node's.
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_peer = 256;
  time_ms first_byte_timeout_ms = 5000;
  time_ms idle_timeout_ms = 30000;
  std::size_t body_limit = 4 << 20;
  /// The access policy file the nodes use (docs/auth.md): `GET /v1/cluster` then needs a
  /// caller with `read` (docs/webview.md); empty leaves that view open, as a node without a
  /// policy is.
  std::string policy;
};

/// What the command line said: a config file, overrides, or a request for help.
struct router_command_line {
  bool help = false;
  std::string config_file;
  std::map<std::string, std::string> overrides;
};

/// Parses `ab-router`'s arguments; an unknown option or a missing value is an error.
caf::expected<router_command_line> parse_router_command_line(const std::vector<std::string>& args);

/// The `--help` text, listing every option.
std::string router_usage();

/// Defaults, then the file, then the command line; then validated. Errors name the file or
/// option, the key, and what was expected.
caf::expected<router_config> load_router_config(const router_command_line& cl);

}  // namespace ab::router
