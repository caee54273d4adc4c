#include "router/router_config.hpp"

#include <nlohmann/json.hpp>

#include "config/node_config.hpp"
#include "config/options.hpp"
#include "core/error.hpp"

namespace ab::router {

namespace options = config::options;

namespace {

using json = nlohmann::json;
using options::bad;
using options::list;
using options::number;
using options::text;
using setting = options::setting<router_config>;

caf::error set_rule(router_config& c, const json& v, const std::string& origin,
                    const std::string& key) {
  if (!v.is_string() || v.get<std::string>().empty())
    return bad(origin, key, "expected a regular expression whose first group is the site");
  c.hostname_rules.insert(c.hostname_rules.begin(), hostname_rule{v.get<std::string>(), ""});
  return caf::none;
}

caf::error set_rules(router_config& c, const json& v, const std::string& origin,
                     const std::string& key) {
  auto expected = "expected an array of {\"pattern\": REGEX, \"site\": SITE}";
  if (!v.is_array()) return bad(origin, key, expected);
  for (const auto& r : v) {
    if (!r.is_object() || r.size() != 2 || !r.contains("pattern") || !r.contains("site") ||
        !r["pattern"].is_string() || !r["site"].is_string())
      return bad(origin, key, expected);
    c.hostname_rules.push_back({r["pattern"].get<std::string>(), r["site"].get<std::string>()});
  }
  return caf::none;
}

const std::vector<setting>& settings() {
  constexpr std::int64_t hour = std::int64_t{3600} * 1000;
  static const std::vector<setting> all{
      text("listen", "HOST:PORT of the HTTP listener (default 127.0.0.1:8090)",
           &router_config::listen),
      text("tls-cert", "PEM certificate chain: serve HTTPS (with tls-key)",
           &router_config::tls_cert),
      text("tls-key", "PEM private key of tls-cert (unencrypted, mode 600)",
           &router_config::tls_key),
      number("tls-check-interval-ms", "tls-cert and tls-key are checked for changes this often",
             &router_config::tls_check_interval_ms, 0, hour),
      text("heartbeat-secret-file", "file with the deployment's heartbeat secret (mode 600)",
           &router_config::heartbeat_secret_file),
      text("metrics-token-file",
           "file with the bearer token GET /metrics asks for (mode 600); unset: no /metrics",
           &router_config::metrics_token_file),
      number("freshness-ms", "a node silent this long is not routed to (default 180000)",
             &router_config::freshness_ms, 100, 24 * hour),
      number("set-aside-ms", "a node that refused a connection is left out this long",
             &router_config::set_aside_ms, 0, hour),
      text("node-ca-file", "PEM CAs that https:// nodes are verified against",
           &router_config::node_ca_file),
      {"hostname-rule", "regex with a capture group naming the site, e.g. '[a-z]+-(dc[0-9]+)-.*'",
       set_rule},
      {"hostname-rules", "JSON array of {\"pattern\": REGEX, \"site\": SITE}, tried in order",
       set_rules},
      number("max-in-flight", "proxied calls at once; one more gets 429",
             &router_config::max_in_flight, 1, 1000000),
      number("max-in-flight-per-client",
             "proxied calls of one client address at once; one more "
             "gets 429",
             &router_config::max_in_flight_per_client, 1, 1000000),
      list("trusted-proxies",
           "load balancer IPs/CIDRs whose X-Forwarded-For is believed, comma-separated",
           &router_config::trusted_proxies, options::check_network),
      number("pool-size", "connections to one node at most", &router_config::pool_size, 1, 100000),
      number("pool-queue", "calls waiting for a connection of one node; one more gets 429",
             &router_config::pool_queue, 0, 1000000),
      number("connect-timeout-ms", "deadline of a connection to a node",
             &router_config::connect_timeout_ms, 10, hour),
      number("request-timeout-ms", "deadline of one call to a node",
             &router_config::request_timeout_ms, 10, hour),
      number("pool-idle-ms", "an idle connection to a node older than this is closed",
             &router_config::pool_idle_ms, 10, hour),
      number("host-cache-ms", "how long host -> site answers of the inventory are kept",
             &router_config::host_cache_ms, 0, hour),
      number("server-threads", "I/O threads of the listener", &router_config::server_threads, 1,
             64),
      number("client-threads", "I/O threads of the client toward the nodes",
             &router_config::client_threads, 1, 64),
      number("max-connections", "client connections served at once",
             &router_config::max_connections, 1, 1000000),
      number("max-connections-per-peer", "client connections of one address at once",
             &router_config::max_connections_per_peer, 1, 1000000),
      number("first-byte-timeout-ms", "a new connection sending nothing this long is closed",
             &router_config::first_byte_timeout_ms, 10, hour),
      number("idle-timeout-ms", "a kept-alive client connection idle this long is closed",
             &router_config::idle_timeout_ms, 10, hour),
      number("body-limit", "largest request body in bytes", &router_config::body_limit, 1024,
             64 << 20),
      text("policy",
           "the nodes' access policy file: GET /v1/cluster needs 'read' (without it: open)",
           &router_config::policy),
  };
  return all;
}

}  // namespace

std::string router_usage() {
  return "usage: ab-router [--config FILE] [--OPTION VALUE ...] [--help]\n"
         "Runs an AutoBuild router: learns the nodes from their signed heartbeats and proxies\n"
         "each API call to a live node of the site its host is in (docs/router.md).\n\n"
         "  --config FILE             JSON file with the options below (keys with '_' or '-')\n" +
         options::usage_lines(settings());
}

caf::expected<router_command_line> parse_router_command_line(const std::vector<std::string>& args) {
  auto a = options::parse_arguments(settings(), args);
  if (!a) return a.error();
  return router_command_line{a->help, std::move(a->config_file), std::move(a->overrides)};
}

caf::expected<router_config> load_router_config(const router_command_line& cl) {
  router_config c;
  if (!cl.config_file.empty())
    if (auto err = options::apply_file(c, settings(), cl.config_file, "ab-router")) return err;
  if (auto err = options::apply_overrides(c, settings(), cl.overrides, "[{")) return err;
  if (auto hp = config::split_host_port(c.listen); !hp)
    return bad("listen", c.listen, message_of(hp.error()));
  if (c.tls_cert.empty() != c.tls_key.empty())
    return c.tls_cert.empty()
               ? bad("tls-key", c.tls_key, "given without tls-cert; give both or neither")
               : bad("tls-cert", c.tls_cert, "given without tls-key; give both or neither");
  if (c.heartbeat_secret_file.empty())
    return bad("heartbeat-secret-file", "(missing)",
               "required: the file with the deployment's heartbeat secret (mode 600)");
  if (auto rules = hostname_rules::make(c.hostname_rules); !rules)
    return bad("hostname-rules", "(rules)", message_of(rules.error()));
  return c;
}

}  // namespace ab::router
