#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "auth/ldap_directory.hpp"
#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::config {

/// Everything an `ab-node` process is told at start-up.
struct node_config {
  /// This node's id in the site (default: the host name).
  std::string node_id;
  std::string site = "default";
  /// Where the HTTP listener binds, HOST:PORT.
  std::string listen = "127.0.0.1:8080";
  /// PEM certificate chain the listener serves HTTPS with; empty: plain HTTP. Needs `tls_key`.
  std::string tls_cert;
  /// PEM file with the unencrypted private key of `tls_cert`, accessible to its owner only.
  /// Both are reloaded on SIGHUP, and when they change (checked this often; 0: not checked).
  std::string tls_key;
  time_ms tls_check_interval_ms = 5000;
  /// Connections the listener serves at once, and at most from one peer address.
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_peer = 64;
  /// A new connection silent this long is closed; a kept-alive one idle this long too.
  time_ms first_byte_timeout_ms = 5000;
  time_ms idle_timeout_ms = 30000;
  /// `sqlite:PATH` or `mysql://USER:PASS@HOST:PORT/DB`.
  std::string store = "sqlite:var/autobuild.db";
  std::size_t store_pool_size = 8;
  /// The API's own share of the database, apart from the workers' `store_pool_size`: this many
  /// detached store actors, each with a connection of its own (plus one for the audit trail's
  /// writer).
  std::size_t api_store_pool_size = 4;
  /// API calls served at once; one more is answered 429 with Retry-After at once.
  std::size_t api_max_in_flight = 256;
  /// API calls admitted per store actor: the admission limit is the smaller of this times
  /// `api_store_pool_size` and `api_max_in_flight`; 0: `api_max_in_flight` alone.
  std::size_t api_calls_per_store_actor = 64;
  /// The API's reads' share of the node's time: milliseconds of reads (admission to answer) a
  /// second; a GET (but the probes and /metrics) that comes while the reads took more lately
  /// is answered 429 with Retry-After at once, so that readers back off before the workers'
  /// share of the database suffers (net/api/read_budget.hpp). 0: no bound.
  std::size_t api_read_ms_per_s = 0;
  /// Cluster map file, watched and reloaded on change and on SIGHUP; empty: built-in defaults.
  std::string cluster_map;
  /// Where the node's cluster map comes from: `file` (`cluster_map`, watched) or `database` (the
  /// site database's map, polled every `cluster_map_poll_ms`; a `cluster_map` file given too
  /// seeds the database when it holds no map yet). Empty until loaded: then `file` when a
  /// `cluster_map` file is given, else `database`.
  std::string cluster_map_source;
  time_ms cluster_map_poll_ms = 2000;
  /// Workers per job type; `default` applies to every registered type not named.
  std::map<std::string, int> workers{{"default", 2}};
  /// Job handlers to register, comma-separated: `bmc` (the lifecycle workflows through the BMC
  /// layer), `simulated` (test and demo job types), or `none`.
  std::string handlers = "bmc";
  /// With simulated handlers: how long a `sim.step` job takes.
  time_ms sim_step_ms = 20;
  /// With simulated handlers: a file every attempt is appended to (empty: none).
  std::string sim_log;
  /// Jobs a worker claims at once.
  int claim_batch = 8;
  /// An idle worker's first pause between claims; it doubles up to `idle_poll_max_ms`.
  time_ms poll_interval_ms = 250;
  time_ms idle_poll_max_ms = 2000;
  time_ms lease_ms = 30000;
  /// The most this node's clock may differ from the database's; beyond it the node refuses
  /// to start, or stops claiming and renewing until the clocks agree again.
  time_ms max_clock_skew_ms = 5000;
  time_ms renew_interval_ms = 10000;
  time_ms recovery_interval_ms = 5000;
  /// The queue gauges of /metrics (depth, oldest wait, active and stuck requests) are read from
  /// the site database this often; a running request with no progress for `stuck_after_ms` is
  /// stuck.
  time_ms metrics_interval_ms = 5000;
  time_ms stuck_after_ms = 1800000;
  time_ms heartbeat_interval_ms = 10000;
  time_ms map_check_interval_ms = 1000;
  time_ms drain_timeout_ms = 30000;
  /// Retention in days (0 = forever): audit entries, and finished requests with their jobs
  /// (never less than a day, the idempotency window); pruned every `prune_interval_ms`.
  int audit_retention_days = 90;
  int request_retention_days = 30;
  time_ms prune_interval_ms = 10 * 60 * 1000;
  /// How often the wave runner advances the site's wave plans (docs/safety.md).
  time_ms wave_interval_ms = 5000;
  /// A worker slot restarted more than this often within `restart_window_ms` is given up.
  int max_restarts = 5;
  time_ms restart_window_ms = 60000;
  storage::queue_policy queue;
  /// The access policy file (accounts, directory groups, roles; docs/auth.md), reloaded on
  /// change and SIGHUP. Empty leaves the API open to anyone, which a node refuses unless it
  /// listens on loopback or `allow_open_api` is set.
  std::string policy;
  bool allow_open_api = false;
  /// BMC workflows: where installers call back (this node's API base URL; default from
  /// `listen`), the installer image, how long an installation may take.
  std::string callback_base;
  std::string installer_image = "http://127.0.0.1/installer.iso";
  time_ms install_timeout_ms = 90 * 60 * 1000;
  /// BMC calls: deadline of one exchange, operations in flight at once, TLS toward BMCs.
  time_ms bmc_timeout_ms = 10000;
  int bmc_max_in_flight = 256;
  /// A BMC's circuit opens after this many failures in a row, for `bmc_breaker_open_ms`.
  int bmc_breaker_failures = 5;
  time_ms bmc_breaker_open_ms = 10000;
  /// Redfish sessions kept between calls: one unused this long is logged out (sooner when the
  /// BMC's SessionTimeout is shorter), and at most this many (the least recently used goes).
  time_ms bmc_session_idle_ms = 60000;
  int bmc_max_sessions = 1024;
  /// Transient BMC errors defer a step without spending an attempt, backing off from
  /// `bmc_retry_base_ms` up to `bmc_retry_max_ms`, for `bmc_retry_budget_ms` per step.
  time_ms bmc_retry_base_ms = 2000;
  time_ms bmc_retry_max_ms = 60000;
  time_ms bmc_retry_budget_ms = 10 * 60 * 1000;
  std::string bmc_ca_file;
  bool bmc_insecure = false;
  /// BMC credentials (docs/bmc.md): the directory `file:NAME` references resolve in (default
  /// `credentials` beside the SQLite database, `var/credentials` with MySQL), and the prefix
  /// of every `env:NAME` reference's variable.
  std::string credentials_dir;
  std::string credential_env_prefix = "AB_BMC_";
  /// The site's BMC networks (CIDRs and host patterns); empty: any network but the refused
  /// addresses (loopback, link-local, unspecified, multicast, this node's own).
  std::vector<std::string> bmc_networks;
  /// Allows BMC endpoints on loopback and this node's addresses (simulated BMCs).
  bool bmc_allow_loopback = false;
  /// Directory logins (docs/ldap.md); an empty `url` turns them off.
  auth::ldap_options ldap;

  // Sites and routers (docs/node.md, "Routers and sites").
  /// The site's number, 0..9000: its request ids are `site_id * 10^12 + n`. Stored in the site
  /// database by the first node; a node with another one refuses to start.
  std::int64_t site_id = 0;
  /// Router base URLs (`http://` or `https://`) this node announces itself to; empty: none.
  std::vector<std::string> routers;
  /// The deployment's shared heartbeat secret (mode 600 or stricter); needed with `routers`.
  std::string heartbeat_secret_file;
  /// The API URL announced to routers; default: `listen`'s address with the node's scheme.
  std::string advertise_url;
  /// How often the node checks its own `/readyz` and announces itself to every router.
  time_ms router_heartbeat_interval_ms = 30000;
  /// PEM bundle of CAs for the routers' and the node's own certificates (default: system's).
  std::string router_ca_file;
  /// Routers' addresses (IPs or CIDRs) whose `X-Forwarded-For` names the client, and which are
  /// exempt from `max_connections_per_peer`; empty: every call is its peer's.
  std::vector<std::string> trusted_routers;
};

/// What the command line said: a config file, overrides, or a request for help.
struct command_line {
  bool help = false;
  std::string config_file;
  /// Option name (without dashes) → value, applied over the file.
  std::map<std::string, std::string> overrides;
};

/// Parses `ab-node`'s arguments; an unknown option or a missing value is an error.
caf::expected<command_line> parse_command_line(const std::vector<std::string>& args);

/// The `--help` text, listing every option.
std::string usage();

/// Builds the configuration: defaults, then the file (if any), then command-line overrides;
/// then validates it. Errors name the file or option, the key, and what was expected.
caf::expected<node_config> load_node_config(const command_line& cl);

/// True if `set` (e.g. `simulated`) is one of the handler sets `cfg.handlers` names.
bool has_handlers(const node_config& cfg, const std::string& set);

/// True for a host that only this machine can reach: `localhost`, `::1`, `127.x.x.x`.
bool is_loopback(const std::string& host);

/// Splits HOST:PORT; the port may be 0 (any free port).
caf::expected<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& s);

}  // namespace ab::config
