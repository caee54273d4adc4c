#include "config/node_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bmc/endpoint_policy.hpp"
#include "config/options.hpp"
#include "core/error.hpp"
#include "core/ip_networks.hpp"
#include "core/private_file.hpp"

namespace ab::config {

namespace {

using json = nlohmann::json;

using options::bad;
using options::check_network;
using options::list;
using options::number;
using options::text;
using setting = options::setting<node_config>;

caf::error set_workers(node_config& c, const json& v, const std::string& origin,
                       const std::string& key) {
  if (!v.is_object()) return bad(origin, key, "expected an object of job type → count");
  for (const auto& [type, n] : v.items()) {
    if (!n.is_number_integer() || n.get<int>() < 0 || n.get<int>() > 256)
      return bad(origin, key + "." + type, "expected a whole number from 0 to 256");
    c.workers[type] = n.get<int>();
  }
  return caf::none;
}

caf::error set_credit(node_config& c, const json& v, const std::string& origin,
                      const std::string& key) {
  if (!v.is_object() || v.empty())
    return bad(origin, key, "expected an object of class → milliseconds");
  c.queue.class_credit_ms.clear();
  for (const auto& [cls, ms] : v.items()) {
    if (!ms.is_number_integer() || ms.get<std::int64_t>() < 0)
      return bad(origin, key + "." + cls, "expected milliseconds (>= 0)");
    c.queue.class_credit_ms[cls] = ms.get<std::int64_t>();
  }
  return caf::none;
}

caf::error set_networks(node_config& c, const json& v, const std::string& origin,
                        const std::string& key) {
  c.bmc_networks.clear();
  // A file gives a JSON array; a command line a comma-separated list.
  if (v.is_string()) {
    std::stringstream in(v.get<std::string>());
    for (std::string one; std::getline(in, one, ',');)
      if (!one.empty()) c.bmc_networks.push_back(one);
  } else if (v.is_array()) {
    for (const auto& one : v) {
      if (!one.is_string()) return bad(origin, key, "expected an array of CIDRs and host patterns");
      c.bmc_networks.push_back(one.get<std::string>());
    }
  } else {
    return bad(origin, key, "expected CIDRs and host patterns (an array, or comma-separated)");
  }
  bmc::endpoint_options o;
  o.networks = c.bmc_networks;
  if (auto p = bmc::endpoint_policy::make(o); !p) return bad(origin, key, message_of(p.error()));
  return caf::none;
}

caf::error set_prefix(node_config& c, const json& v, const std::string& origin,
                      const std::string& key) {
  auto ok = [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
  };
  auto prefix = v.is_string() ? v.get<std::string>() : std::string{};
  if (prefix.empty() || !std::all_of(prefix.begin(), prefix.end(), ok))
    return bad(origin, key, "expected a variable name prefix of A-Z, 0-9 and '_' (e.g. AB_BMC_)");
  c.credential_env_prefix = prefix;
  return caf::none;
}

caf::error set_ldap(node_config& c, const json& v, const std::string& origin,
                    const std::string& key) {
  if (!v.is_object()) return bad(origin, key, "expected an object (see docs/ldap.md)");
  auto& o = c.ldap;
  const std::map<std::string, std::string*> texts{{"url", &o.url},
                                                  {"bind_template", &o.bind_template},
                                                  {"user_search_base", &o.user_search_base},
                                                  {"user_search_filter", &o.user_search_filter},
                                                  {"login_attribute", &o.login_attribute},
                                                  {"group_search_base", &o.group_search_base},
                                                  {"group_search_filter", &o.group_search_filter},
                                                  {"group_name_attribute", &o.group_name_attribute},
                                                  {"ca_file", &o.ca_file}};
  const std::map<std::string, bool*> flags{{"read_member_of", &o.read_member_of},
                                           {"start_tls", &o.start_tls},
                                           {"allow_plaintext", &o.allow_plaintext}};
  const std::map<std::string, std::chrono::milliseconds*> times{
      {"network_timeout_ms", &o.network_timeout}, {"operation_timeout_ms", &o.operation_timeout}};
  for (const auto& [k, value] : v.items()) {
    auto where = key + "." + k;
    if (auto t = texts.find(k); t != texts.end()) {
      if (!value.is_string()) return bad(origin, where, "expected a string");
      *t->second = value.get<std::string>();
    } else if (auto f = flags.find(k); f != flags.end()) {
      if (!value.is_boolean()) return bad(origin, where, "expected true or false");
      *f->second = value.get<bool>();
    } else if (auto ms = times.find(k); ms != times.end()) {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > 600000)
        return bad(origin, where, "expected milliseconds from 1 to 600000");
      *ms->second = std::chrono::milliseconds{value.get<std::int64_t>()};
    } else {
      return bad(origin, where, "unknown field (see docs/ldap.md)");
    }
  }
  if (auto err = auth::validate(o)) return bad(origin, key, message_of(err));
  return caf::none;
}

// Sites and routers: list settings and their checks.

/// An `http://` or `https://` URL with a host.
std::optional<std::string> check_url(const std::string& v) {
  auto rest = v.rfind("https://", 0) == 0  ? v.substr(8)
              : v.rfind("http://", 0) == 0 ? v.substr(7)
                                           : std::string{};
  if (rest.empty() || rest.front() == '/' || rest.find_first_of(" \t\r\n") != std::string::npos)
    return "expected http://HOST:PORT or https://HOST:PORT URLs";
  return std::nullopt;
}

/// A pacing limit (docs/safety.md): a whole number from 0 (no limit) to `hi`.
setting pacing_limit(const char* key, const char* help, int storage::pacing_policy::*field,
                     int hi) {
  return {key, help,
          [=](node_config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > hi)
              return bad(origin, key,
                         "expected a whole number from 0 (no limit) to " + std::to_string(hi));
            c.queue.pacing.*field = static_cast<int>(v.get<std::int64_t>());
            return caf::none;
          }};
}

const std::vector<setting>& settings() {
  constexpr std::int64_t hour = std::int64_t{3600} * 1000;
  static const std::vector<setting> all{
      text("node-id", "this node's id in the site (default: host name)", &node_config::node_id),
      text("site", "the site (data centre) this node serves", &node_config::site),
      text("listen", "HOST:PORT of the HTTP listener (default 127.0.0.1:8080)",
           &node_config::listen),
      text("tls-cert", "PEM certificate chain: serve HTTPS (with tls-key)", &node_config::tls_cert),
      text("tls-key", "PEM private key of tls-cert (unencrypted, mode 600)", &node_config::tls_key),
      number("tls-check-interval-ms",
             "tls-cert and tls-key are checked for changes this often (0: only on SIGHUP)",
             &node_config::tls_check_interval_ms, 0, hour),
      number("max-connections", "connections served at once; idle ones are evicted at the cap",
             &node_config::max_connections, 1, 1000000),
      number("max-connections-per-peer", "connections of one peer address at once",
             &node_config::max_connections_per_peer, 1, 1000000),
      number("first-byte-timeout-ms", "a new connection sending nothing this long is closed",
             &node_config::first_byte_timeout_ms, 10, hour),
      number("idle-timeout-ms", "a kept-alive connection idle this long is closed",
             &node_config::idle_timeout_ms, 10, hour),
      text("store", "sqlite:PATH or mysql://USER:PASS@HOST:PORT/DB", &node_config::store),
      number("store-pool-size", "database connections of this node's workers",
             &node_config::store_pool_size, 1, 256),
      number("api-store-pool-size", "database connections (and store actors) of the API",
             &node_config::api_store_pool_size, 1, 256),
      number("api-max-in-flight", "API calls served at once; one more gets 429",
             &node_config::api_max_in_flight, 1, 1000000),
      number("api-calls-per-store-actor",
             "API calls admitted per store actor (within api-max-in-flight; 0: no such cap)",
             &node_config::api_calls_per_store_actor, 0, 1000000),
      number("api-read-ms-per-s",
             "the API's reads' share: ms of reads a second; a GET beyond it gets 429 (0: none)",
             &node_config::api_read_ms_per_s, 0, 1000000),
      text("cluster-map", "cluster map file, reloaded on change and SIGHUP",
           &node_config::cluster_map),
      text("cluster-map-source",
           "file or database (default: file when cluster-map is given, else database)",
           &node_config::cluster_map_source),
      number("cluster-map-poll-ms", "the site database's cluster map version is read this often",
             &node_config::cluster_map_poll_ms, 10, hour),
      {"workers", "JSON object: workers per job type, \"default\" for the rest", set_workers},
      text("handlers", "job handlers, comma-separated: bmc, simulated, or none (default bmc)",
           &node_config::handlers),
      text("callback-base", "API base URL installers call back (default from listen)",
           &node_config::callback_base),
      text("installer-image", "URL of the installer image inserted as virtual CD",
           &node_config::installer_image),
      number("install-timeout-ms", "how long an installation may take",
             &node_config::install_timeout_ms, 1000, 24 * hour),
      number("bmc-timeout-ms", "deadline of one BMC exchange", &node_config::bmc_timeout_ms, 100,
             hour),
      number("bmc-max-in-flight", "BMC operations in flight at once on this node",
             &node_config::bmc_max_in_flight, 1, 100000),
      number("bmc-breaker-failures", "a BMC's circuit opens after this many failures in a row",
             &node_config::bmc_breaker_failures, 1, 1000),
      number("bmc-breaker-open-ms", "how long an open circuit refuses calls to its BMC",
             &node_config::bmc_breaker_open_ms, 0, hour),
      number("bmc-session-idle-ms",
             "a kept Redfish session unused this long is logged out (sooner if the BMC's "
             "SessionTimeout is shorter)",
             &node_config::bmc_session_idle_ms, 1000, 24 * hour),
      number("bmc-max-sessions", "Redfish sessions kept at most; one more ends the oldest",
             &node_config::bmc_max_sessions, 1, 1000000),
      number("bmc-retry-base-ms", "first wait after a transient BMC error; doubles per error",
             &node_config::bmc_retry_base_ms, 1, hour),
      number("bmc-retry-max-ms", "longest wait between tries of a failing BMC",
             &node_config::bmc_retry_max_ms, 1, hour),
      number("bmc-retry-budget-ms", "how long transient BMC errors spend no attempt of a step",
             &node_config::bmc_retry_budget_ms, 0, 24 * hour),
      text("bmc-ca-file", "PEM bundle of the CAs BMC certificates are checked against",
           &node_config::bmc_ca_file),
      number("bmc-insecure", "1: do not verify BMC certificates (labs only)",
             &node_config::bmc_insecure, 0, 1),
      text("credentials-dir",
           "directory of file:NAME BMC credentials (default: credentials beside the database)",
           &node_config::credentials_dir),
      {"credential-env-prefix", "prefix of env:NAME BMC credential variables (default AB_BMC_)",
       set_prefix},
      {"bmc-networks", "the site's BMC networks: CIDRs and host patterns, comma-separated",
       set_networks},
      number("bmc-allow-loopback", "1: allow BMC endpoints on loopback / this node (simulators)",
             &node_config::bmc_allow_loopback, 0, 1),
      number("sim-step-ms", "simulated handlers: duration of a sim.step job",
             &node_config::sim_step_ms, 0, hour),
      text("sim-log", "simulated handlers: append every attempt to this file",
           &node_config::sim_log),
      number("claim-batch", "jobs a worker claims at once", &node_config::claim_batch, 1, 256),
      number("idle-poll-max-ms", "idle workers back off up to this pause between claims",
             &node_config::idle_poll_max_ms, 1, hour),
      number("poll-interval-ms", "an idle worker's first pause between claims",
             &node_config::poll_interval_ms, 1, hour),
      number("lease-ms", "lease of a claimed job", &node_config::lease_ms, 100, hour),
      number("max-clock-skew-ms", "most this node's clock may differ from the database's",
             &node_config::max_clock_skew_ms, 1, hour),
      number("renew-interval-ms", "leases are renewed this often", &node_config::renew_interval_ms,
             10, hour),
      number("recovery-interval-ms", "the straggler manager runs this often",
             &node_config::recovery_interval_ms, 10, hour),
      number("metrics-interval-ms", "the queue gauges of /metrics are read this often",
             &node_config::metrics_interval_ms, 100, hour),
      number("stuck-after-ms", "a running request without progress this long counts as stuck",
             &node_config::stuck_after_ms, 1000, 7 * 24 * hour),
      number("heartbeat-interval-ms", "the node records itself this often",
             &node_config::heartbeat_interval_ms, 10, hour),
      number("map-check-interval-ms", "the cluster map file is checked this often",
             &node_config::map_check_interval_ms, 10, hour),
      number("drain-timeout-ms", "SIGTERM: running jobs get this long to finish",
             &node_config::drain_timeout_ms, 0, hour),
      number("audit-retention-days", "audit entries are kept this long; 0: forever",
             &node_config::audit_retention_days, 0, 36500),
      number("request-retention-days",
             "finished requests and their jobs are kept this long (at least a day); 0: forever",
             &node_config::request_retention_days, 0, 36500),
      number("prune-interval-ms", "what the retention lets go is pruned this often",
             &node_config::prune_interval_ms, 1000, 24 * hour),
      number("wave-interval-ms", "the site's wave plans are advanced this often",
             &node_config::wave_interval_ms, 100, hour),
      number("max-restarts", "restarts of a worker slot allowed per window",
             &node_config::max_restarts, 0, 1000),
      number("restart-window-ms", "the window of max-restarts", &node_config::restart_window_ms, 10,
             24 * hour),
      {"priority-credit-ms", "JSON object: head start per priority class", set_credit},
      {"retry-backoff-ms", "first retry delay of a failed job; doubles per attempt, with jitter",
       [](node_config& c, const json& v, const std::string& origin,
          const std::string& key) -> caf::error {
         if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 3600000)
           return bad(origin, key, "expected milliseconds from 1 to 3600000");
         c.queue.backoff_base_ms = v.get<std::int64_t>();
         return caf::none;
       }},
      // Pacing of destructive and power-affecting work (docs/safety.md).
      pacing_limit("pacing-per-rack", "most paced requests in flight per rack; 0: no limit",
                   &storage::pacing_policy::per_rack, 100000),
      pacing_limit("pacing-per-power-domain",
                   "most paced requests in flight per power domain; 0: no limit",
                   &storage::pacing_policy::per_power_domain, 100000),
      pacing_limit("pacing-per-site", "most paced requests in flight per site; 0: no limit",
                   &storage::pacing_policy::per_site, 1000000),
      pacing_limit("pacing-power-ons-per-second",
                   "most power-on job starts per second per site; 0: no limit",
                   &storage::pacing_policy::power_ons_per_second, 100000),
      {"pacing-actions", "actions whose requests are paced, comma-separated (or a JSON array)",
       [](node_config& c, const json& v, const std::string& origin,
          const std::string& key) -> caf::error {
         auto out = options::read_list(v, origin, key);
         if (!out) return std::move(out.error());
         if (out->size() > 64) return bad(origin, key, "at most 64 actions");
         c.queue.pacing.actions = std::move(*out);
         return caf::none;
       }},
      text("policy", "access policy file (tokens, groups, roles), reloaded on change and SIGHUP",
           &node_config::policy),
      number("allow-open-api", "1: serve without a policy on a non-loopback address",
             &node_config::allow_open_api, 0, 1),
      {"ldap", "JSON object: directory logins (url, bind_template, ...; docs/ldap.md)", set_ldap},
      // Sites and routers.
      number("site-id", "this site's number, 0..9000: request ids are site-id * 10^12 + n",
             &node_config::site_id, 0, 9000),
      list("routers", "router URLs this node announces itself to, comma-separated",
           &node_config::routers, check_url),
      text("heartbeat-secret-file", "shared secret of the heartbeats to routers (mode 600)",
           &node_config::heartbeat_secret_file),
      text("advertise-url", "API URL announced to routers (default from listen)",
           &node_config::advertise_url),
      number("router-heartbeat-interval-ms", "the node announces itself to routers this often",
             &node_config::router_heartbeat_interval_ms, 100, hour),
      text("router-ca-file", "PEM bundle of the CAs of the routers' and this node's certificates",
           &node_config::router_ca_file),
      list("trusted-routers", "router IPs/CIDRs whose X-Forwarded-For is believed, comma-separated",
           &node_config::trusted_routers, check_network),
  };
  return all;
}

/// `credentials` in the directory of the SQLite database file; `var/credentials` otherwise.
std::string default_credentials_dir(const std::string& store) {
  if (store.rfind("sqlite:", 0) == 0) {
    auto parent = std::filesystem::path(store.substr(7)).parent_path();
    if (!parent.empty()) return (parent / "credentials").string();
  }
  return "var/credentials";
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "node";
  return buf;
}

}  // namespace

std::string usage() {
  std::string out =
      "usage: ab-node [--config FILE] [--OPTION VALUE ...] [--help]\n"
      "Runs an AutoBuild node: workers that claim jobs from the site database, the straggler\n"
      "manager, lease renewal, the node heartbeat, and the HTTP listener. With no arguments it\n"
      "runs on the embedded SQLite store under var/ and listens on 127.0.0.1:8080.\n\n"
      "  --config FILE             JSON file with the options below (keys with '_' or '-')\n";
  return out + options::usage_lines(settings());
}

caf::expected<command_line> parse_command_line(const std::vector<std::string>& args) {
  auto a = options::parse_arguments(settings(), args);
  if (!a) return a.error();
  command_line cl;
  cl.help = a->help;
  cl.config_file = std::move(a->config_file);
  cl.overrides = std::move(a->overrides);
  return cl;
}

namespace {

/// True for a `mysql://USER:PASS@…` URL that carries a password.
bool holds_password(const std::string& store) {
  if (store.rfind("mysql://", 0) != 0) return false;
  auto at = store.find('@');
  auto colon = store.find(':', 8);
  return at != std::string::npos && colon != std::string::npos && colon < at && colon + 1 < at;
}

}  // namespace

caf::expected<node_config> load_node_config(const command_line& cl) {
  node_config c;
  if (!cl.config_file.empty()) {
    if (auto err = options::apply_file(c, settings(), cl.config_file, "ab-node")) return err;
    // A file that holds the database password is a secret of its own.
    if (holds_password(c.store))
      if (auto err = check_private_file(cl.config_file,
                                        "configuration file with a password in "
                                        "its store URL"))
        return err;
  }
  if (auto err = options::apply_overrides(c, settings(), cl.overrides, "{")) return err;
  if (c.node_id.empty()) c.node_id = host_name();
  if (c.credentials_dir.empty()) c.credentials_dir = default_credentials_dir(c.store);
  if (auto hp = split_host_port(c.listen); !hp)
    return bad("listen", c.listen, ab::message_of(hp.error()));
  if (c.tls_cert.empty() != c.tls_key.empty())
    return c.tls_cert.empty()
               ? bad("tls-key", c.tls_key, "given without tls-cert; give both or neither")
               : bad("tls-cert", c.tls_cert, "given without tls-key; give both or neither");
  for (std::size_t pos = 0; pos <= c.handlers.size();) {
    auto comma = c.handlers.find(',', pos);
    auto one = c.handlers.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (one != "none" && one != "simulated" && one != "bmc")
      return bad("handlers", c.handlers, "expected a comma-separated list of bmc, simulated, none");
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (c.cluster_map_source.empty())
    c.cluster_map_source = c.cluster_map.empty() ? "database" : "file";
  if (c.cluster_map_source != "file" && c.cluster_map_source != "database")
    return bad("cluster-map-source", c.cluster_map_source, "expected file or database");
  if (c.cluster_map_source == "file" && c.cluster_map.empty())
    return bad("cluster-map-source", c.cluster_map_source,
               "file needs the cluster map file (--cluster-map)");
  if (c.renew_interval_ms * 2 > c.lease_ms)
    return bad("renew-interval-ms", std::to_string(c.renew_interval_ms),
               "must be at most half of lease-ms (" + std::to_string(c.lease_ms) +
                   ") so that a lease survives one missed renewal");
  if (!c.ldap.url.empty() && c.policy.empty())
    return bad("ldap", c.ldap.url,
               "directory logins need a policy (--policy) to map groups to roles");
  if (c.store.rfind("sqlite:", 0) != 0 && c.store.rfind("mysql://", 0) != 0)
    return bad("store", "(value hidden)", "expected sqlite:PATH or mysql://USER:PASS@HOST:PORT/DB");
  if (!c.routers.empty() && c.heartbeat_secret_file.empty())
    return bad("routers", c.routers.front(),
               "heartbeats to routers are signed: give heartbeat-secret-file too");
  if (!c.advertise_url.empty())
    if (auto why = check_url(c.advertise_url)) return bad("advertise-url", c.advertise_url, *why);
  return c;
}

bool has_handlers(const node_config& cfg, const std::string& set) {
  return ("," + cfg.handlers + ",").find("," + set + ",") != std::string::npos;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

caf::expected<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    return make_error(errc::bad_config, "expected HOST:PORT");
  auto port = s.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    return make_error(errc::bad_config, "port must be a number from 0 to 65535");
  return std::make_pair(s.substr(0, colon), static_cast<std::uint16_t>(std::stoi(port)));
}

}  // namespace ab::config
