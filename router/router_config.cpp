#include "router/router_config.hpp"

#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/node_config.hpp"
#include "core/error.hpp"
#include "core/ip_networks.hpp"

namespace ab::router {

namespace {

using json = nlohmann::json;

caf::error bad(const std::string& origin, const std::string& key, const std::string& why) {
  return make_error(errc::bad_config, origin + ": " + key + ": " + why);
}

struct setting {
  const char* key;
  const char* help;
  std::function<caf::error(router_config&, const json&, const std::string& origin,
                           const std::string& key)>
      set;
};

template <class T>
setting text(const char* key, const char* help, T router_config::*field) {
  return {key, help,
          [=](router_config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            if (!v.is_string() || v.get<std::string>().empty())
              return bad(origin, key, "expected a non-empty string");
            c.*field = v.get<std::string>();
            return caf::none;
          }};
}

template <class T>
setting number(const char* key, const char* help, T router_config::*field, std::int64_t lo,
               std::int64_t hi) {
  return {key, help,
          [=](router_config& c, const json& v, const std::string& origin,
              const std::string& key) -> caf::error {
            if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
              return bad(origin, key,
                         "expected a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi));
            c.*field = static_cast<T>(v.get<std::int64_t>());
            return caf::none;
          }};
}

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

/// IPs/CIDRs: a JSON array of strings (file) or comma-separated text (command line).
caf::error set_proxies(router_config& c, const json& v, const std::string& origin,
                       const std::string& key) {
  std::vector<std::string> out;
  if (v.is_string()) {
    std::stringstream in(v.get<std::string>());
    for (std::string one; std::getline(in, one, ',');)
      if (!one.empty()) out.push_back(one);
  } else if (v.is_array()) {
    for (const auto& one : v) {
      if (!one.is_string()) return bad(origin, key, "expected an array of strings");
      out.push_back(one.get<std::string>());
    }
  } else {
    return bad(origin, key, "expected an array of IPs/CIDRs, or comma-separated text");
  }
  for (const auto& one : out)
    if (auto n = ip_networks::parse({one}); !n)
      return bad(origin, key, "'" + one + "': " + message_of(n.error()));
  c.trusted_proxies = std::move(out);
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
      {"trusted-proxies",
       "load balancer IPs/CIDRs whose X-Forwarded-For is believed, "
       "comma-separated",
       set_proxies},
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
  };
  return all;
}

std::string option_name(std::string key) {
  for (auto& ch : key)
    if (ch == '_') ch = '-';
  return key;
}

const setting* find_setting(const std::string& name) {
  for (const auto& s : settings())
    if (name == s.key) return &s;
  return nullptr;
}

json value_of(const std::string& text) {
  if (!text.empty() && (text.front() == '[' || text.front() == '{' ||
                        std::isdigit(static_cast<unsigned char>(text[0]))))
    try {
      return json::parse(text);
    } catch (const json::exception&) {
      // Not JSON after all: the setting says what it expected.
    }
  return text;
}

}  // namespace

std::string router_usage() {
  std::string out =
      "usage: ab-router [--config FILE] [--OPTION VALUE ...] [--help]\n"
      "Runs an AutoBuild router: learns the nodes from their signed heartbeats and proxies\n"
      "each API call to a live node of the site its host is in (docs/router.md).\n\n"
      "  --config FILE             JSON file with the options below (keys with '_' or '-')\n";
  for (const auto& s : settings()) {
    std::string name = std::string{"  --"} + s.key + " V";
    name.resize(28, ' ');
    out += name + s.help + "\n";
  }
  return out;
}

caf::expected<router_command_line> parse_router_command_line(const std::vector<std::string>& args) {
  router_command_line cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      cl.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0)
      return make_error(errc::bad_config, "unexpected argument '" + a + "' (see --help)");
    auto name = a.substr(2);
    std::string val;
    if (auto eq = name.find('='); eq != std::string::npos) {
      val = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      val = args[++i];
    } else {
      return make_error(errc::bad_config, "option --" + name + " needs a value");
    }
    if (name == "config")
      cl.config_file = val;
    else if (find_setting(name))
      cl.overrides[name] = val;
    else
      return make_error(errc::bad_config, "unknown option --" + name + " (see --help)");
  }
  return cl;
}

caf::expected<router_config> load_router_config(const router_command_line& cl) {
  router_config c;
  if (!cl.config_file.empty()) {
    std::ifstream in{cl.config_file};
    if (!in) return make_error(errc::bad_config, cl.config_file + ": cannot be read");
    std::stringstream buf;
    buf << in.rdbuf();
    json doc;
    try {
      doc = json::parse(buf.str());
    } catch (const json::exception& e) {
      return make_error(errc::bad_config, cl.config_file + ": not valid JSON: " + e.what());
    }
    if (!doc.is_object()) return bad(cl.config_file, "(top level)", "expected an object");
    for (const auto& [key, v] : doc.items()) {
      const auto* s = find_setting(option_name(key));
      if (!s) return bad(cl.config_file, key, "unknown key (see ab-router --help)");
      if (auto err = s->set(c, v, cl.config_file, key)) return err;
    }
  }
  for (const auto& [name, text] : cl.overrides)
    if (auto err = find_setting(name)->set(c, value_of(text), "command line", "--" + name))
      return err;
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
