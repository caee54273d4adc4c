#include "node/http_front.hpp"

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "lifecycle/rules.hpp"
#include "net/api/error.hpp"
#include "net/api/waiting_for.hpp"
#include "node/bmc_access.hpp"

namespace ab::node {

caf::expected<node_http> start_node_http(
    caf::actor_system& sys, const config::node_config& cfg,
    const actors::supervisor_actor& supervisor, std::shared_ptr<storage::store> store,
    const std::shared_ptr<const config::live_cluster_map>& map) {
  auto hp = config::split_host_port(cfg.listen);
  if (!hp) return hp.error();
  node_http out;
  net::api_options opts;
  // Hosts are checked against the node's BMC rules before they are stored; a request is
  // planned by the lifecycle, against what the host's BMC can do.
  auto access = make_bmc_access(cfg, true);
  if (!access) return std::move(access.error());
  lifecycle::rules_options rules;
  rules.capabilities = [access = *access](const storage::host_record& h) {
    return host_capabilities(access, h);
  };
  opts.rules = std::make_shared<const lifecycle::rules>(std::move(rules));
  if (!cfg.cluster_map.empty())
    opts.unserved = [map, file = cfg.cluster_map](const std::string& action) {
      auto m = map->current();
      return m->cluster_serving(action)
                 ? std::nullopt
                 : std::optional<std::string>{"no cluster of the cluster map " + file +
                                              " processes action " + action + " (" + m->describe() +
                                              ")"};
    };
  // A node counts as live for three heartbeat intervals: one late beat is not an outage.
  opts.waiting_for = [map, store, clk = std::make_shared<system_clock>(),
                      window = 3 * cfg.heartbeat_interval_ms](const storage::request_view& r) {
    if (storage::is_terminal(r.state)) return std::optional<std::string>{};
    auto nodes = store->nodes();
    if (!nodes) return std::optional<std::string>{};
    return net::waiting_for(r, {*nodes, *map->current(), clk->now(), window});
  };
  opts.validate_host = [access = *access](const storage::host_record& h) {
    return host_refusal(access, h);
  };
  opts.classes.clear();
  for (const auto& [cls, credit] : cfg.queue.class_credit_ms) opts.classes.push_back(cls);
  if (!cfg.policy.empty()) {
    auth::authenticator_options ao;
    ao.policy_file = cfg.policy;
    ao.words = {opts.rules->actions(), opts.classes};
    ao.watch_interval = std::chrono::milliseconds{cfg.map_check_interval_ms};
    if (!cfg.ldap.url.empty()) {
      auto directory = std::make_shared<auth::ldap_directory>(cfg.ldap);
      ao.directory = [directory](const std::string& login, const std::string& password) {
        return directory->authenticate(login, password);
      };
    }
    auto a = auth::authenticator::open(std::move(ao));
    if (!a) return a.error();
    out.auth = std::move(*a);
  } else if (!config::is_loopback(hp->first) && !cfg.allow_open_api) {
    return make_error(errc::bad_config,
                      "refusing to serve an open API (no --policy) on " + cfg.listen +
                          "; configure a policy, listen on loopback, or set --allow-open-api 1");
  }
  out.audit = std::make_shared<net::audit_trail>(store);
  opts.auth = out.auth;
  opts.audit = out.audit;
  opts.node_info = [&sys, supervisor, node_id = cfg.node_id, site = cfg.site,
                    auth_mode =
                        std::string{out.auth ? "policy" : "open"}](const net::responder& respond) {
    // Ask the supervisor without blocking an I/O thread: a short-lived actor relays the answer.
    // (The supervisor is passed as a spawn argument: CAF 0.17 dereferences a null argument
    // tuple when a function actor is spawned without arguments, which UBSan rejects.)
    sys.spawn(
        [respond, node_id, site, auth_mode](caf::event_based_actor* self,
                                            const actors::supervisor_actor& sup) {
          self->request(sup, std::chrono::seconds(5), actors::status_atom::value)
              .then(
                  [=](const actors::pool_status& st) {
                    respond(net::json_response(
                        200, nlohmann::json{{"node_id", node_id},
                                            {"site", site},
                                            {"auth", auth_mode},
                                            {"cluster", st.cluster},
                                            {"workers", st.workers},
                                            {"restarts", st.restarts},
                                            {"given_up", st.given_up},
                                            {"service_restarts", st.service_restarts},
                                            {"draining", st.draining}}
                                 .dump()));
                  },
                  [=](const caf::error& err) {
                    respond(net::error_response({503, "unavailable", message_of(err), 1}));
                  });
        },
        supervisor);
  };
  out.api = std::make_unique<net::api_service>(std::move(store), std::move(opts));
  net::server_options so;
  so.host = hp->first;
  so.port = hp->second;
  // Two I/O threads: one alone cannot keep up with 429 answers under overload on 2 cores.
  so.threads = 2;
  so.tls = {cfg.tls_cert, cfg.tls_key, std::chrono::milliseconds(cfg.tls_check_interval_ms)};
  so.max_connections = cfg.max_connections;
  so.max_connections_per_peer = cfg.max_connections_per_peer;
  so.first_byte_timeout = std::chrono::milliseconds(cfg.first_byte_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  auto* api = out.api.get();
  auto server = net::http_server::start(so, [api](net::http_request&& req, net::responder respond) {
    api->handle(std::move(req), std::move(respond));
  });
  if (!server) return server.error();
  out.server = std::move(*server);
  return out;
}

}  // namespace ab::node
