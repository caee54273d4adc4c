#include "node/http_front.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "lifecycle/eta_metrics.hpp"
#include "lifecycle/rules.hpp"
#include "net/api/error.hpp"
#include "net/api/waiting_for.hpp"
#include "node/bmc_access.hpp"
#include "node/bmc_probe.hpp"
#include "node/protocol_gate.hpp"

namespace ab::node {

namespace {

/// The node registry as read from the store at most once per `max_age_ms`; shared by the API's
/// store actors.
class recent_nodes {
 public:
  recent_nodes(std::shared_ptr<storage::store> store, time_ms max_age_ms)
      : store_(std::move(store)), max_age_ms_(max_age_ms) {}

  /// The registry as of at most `max_age_ms` before `now`; null when the store fails.
  std::shared_ptr<const std::vector<storage::node_record>> nodes(time_ms now) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (nodes_ && now - read_at_ < max_age_ms_ && now >= read_at_) return nodes_;
    }
    auto fresh = store_->nodes();
    if (!fresh) return nullptr;
    auto out = std::make_shared<const std::vector<storage::node_record>>(std::move(*fresh));
    std::lock_guard<std::mutex> guard{mutex_};
    nodes_ = out;
    read_at_ = now;
    return out;
  }

 private:
  std::shared_ptr<storage::store> store_;
  time_ms max_age_ms_;
  std::mutex mutex_;
  std::shared_ptr<const std::vector<storage::node_record>> nodes_;
  time_ms read_at_ = 0;
};

/// The node resource: `GET /v1/node` asks the supervisor for its pools, without blocking.
net::node_actor::behavior_type node_resource(
    net::node_actor::pointer self, const actors::supervisor_actor& supervisor,
    const net::node_report& base, const std::function<void(net::node_report&)>& add_to_report,
    std::shared_ptr<const std::atomic<std::int64_t>> api_store_restarts) {
  return {[=](net::node_atom) -> caf::result<net::node_report> {
    auto promise = self->make_response_promise<net::node_report>();
    self->request(supervisor, std::chrono::seconds(5), actors::status_atom::value)
        .then(
            [=](const actors::pool_status& st) mutable {
              auto r = base;
              r.cluster = st.cluster;
              r.workers = st.workers;
              r.restarts = st.restarts;
              r.given_up = st.given_up;
              r.service_restarts = st.service_restarts;
              r.service_restarts["api_store"] = api_store_restarts->load();
              r.draining = st.draining;
              if (add_to_report) add_to_report(r);
              promise.deliver(std::move(r));
            },
            [=](caf::error& err) mutable { promise.deliver(std::move(err)); });
    return promise;
  }};
}

}  // namespace

caf::expected<node_http> start_node_http(caf::actor_system& sys, const config::node_config& cfg,
                                         const actors::supervisor_actor& supervisor,
                                         const std::shared_ptr<const config::live_cluster_map>& map,
                                         std::function<void(net::node_report&)> add_to_report,
                                         const release_info& release) {
  auto hp = config::split_host_port(cfg.listen);
  if (!hp) return hp.error();
  auto routers = ip_networks::parse(cfg.trusted_routers);
  if (!routers) return routers.error();
  // The API's own share of the database, so that its calls never queue behind the workers':
  // a store actor per connection, and one connection for the audit trail's writer.
  storage::store_options api_so;
  api_so.url = cfg.store;
  api_so.pool_size = cfg.api_store_pool_size + 1;
  api_so.policy = cfg.queue;
  auto opened = storage::open_store(api_so, std::make_shared<system_clock>());
  if (!opened) return opened.error();
  std::shared_ptr<storage::store> api_store = std::move(*opened);
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
  if (!cfg.cluster_map.empty() || cfg.cluster_map_source == "database")
    opts.unserved = [map, origin = cfg.cluster_map_source == "database"
                                       ? std::string{"of the site database"}
                                       : cfg.cluster_map](const std::string& action) {
      auto m = map->current();
      return m->cluster_serving(action)
                 ? std::nullopt
                 : std::optional<std::string>{"no cluster of the cluster map " + origin +
                                              " processes action " + action + " (" + m->describe() +
                                              ")"};
    };
  opts.cluster_of = [map](const std::string& action) {
    return map->current()->cluster_serving(action);
  };
  // A node counts as live for three heartbeat intervals: one late beat is not an outage. The
  // registry is read at most once a second (a fraction of that window), not on every GET.
  auto registry =
      std::make_shared<recent_nodes>(api_store, std::min<time_ms>(1000, cfg.heartbeat_interval_ms));
  opts.waiting_for = [map, registry, api_store, clk = std::make_shared<system_clock>(),
                      window = 3 * cfg.heartbeat_interval_ms](const storage::request_view& r) {
    if (storage::is_terminal(r.state)) return std::optional<std::string>{};
    auto nodes = registry->nodes(clk->now());
    if (!nodes) return std::optional<std::string>{};
    auto m = map->current();
    net::waiting_context ctx{*nodes, *m, clk->now(), window};
    ctx.blockers = net::safety_blockers(*api_store, *m, r);
    return net::waiting_for(r, ctx);
  };
  opts.validate_host = [access = *access](const storage::host_record& h) {
    return host_refusal(access, h);
  };
  // Dry runs probe each BMC for at most 2 s (or the BMC timeout, when shorter).
  opts.probe_host = make_bmc_probe(
      *access, std::chrono::milliseconds{std::min<time_ms>(2000, cfg.bmc_timeout_ms)});
  // A redeemed callback wakes its parked job: the pool of its type claims it at once.
  opts.on_callback = [supervisor](storage::request_id id) {
    caf::anon_send(supervisor, actors::wake_atom::value, id);
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
  out.audit = std::make_shared<net::audit_trail>(api_store);
  opts.auth = out.auth;
  opts.audit = out.audit;
  opts.store_actors = cfg.api_store_pool_size;
  opts.store_restarts = std::make_shared<std::atomic<std::int64_t>>(0);
  opts.max_in_flight = cfg.api_max_in_flight;
  opts.calls_per_store_actor = cfg.api_calls_per_store_actor;
  opts.read_ms_per_s = static_cast<double>(cfg.api_read_ms_per_s);
  opts.trusted_routers = *routers;
  // Turnaround estimates from the API's store, summaries read at most once a second; the
  // metrics' thread keeps them fresh and observes the requests this node's workers finished.
  lifecycle::eta_board_options eo;
  eo.site = cfg.site;
  eo.class_credit_ms = cfg.queue.class_credit_ms;
  eo.stuck_after_ms = cfg.stuck_after_ms;
  out.eta = std::make_shared<lifecycle::eta_board>(api_store, std::make_shared<system_clock>(),
                                                   std::move(eo));
  opts.eta = out.eta;
  out.eta_metrics = std::make_unique<lifecycle::eta_metrics>(
      out.eta, cfg.node_id + "@",
      [map](const std::string& action) {
        return map->current()->cluster_serving(action).value_or("");
      },
      1000);
  net::node_report base;
  base.node_id = cfg.node_id;
  base.site = cfg.site;
  base.auth = out.auth ? "policy" : "open";
  base.site_id = cfg.site_id;
  auto node = sys.spawn(node_resource, supervisor, base, std::move(add_to_report),
                        std::shared_ptr<const std::atomic<std::int64_t>>(opts.store_restarts));
  auto resources = net::spawn_api_resources(sys, api_store, opts, node);
  resources.cluster_map = net::spawn_cluster_map_resource(sys, api_store, {cfg.site, out.auth});
  resources.safety = net::spawn_safety_resource(sys, api_store, {cfg.site, out.auth});
  resources.waves = net::spawn_wave_resource(sys, api_store, {opts.rules, out.auth});
  out.api = std::make_unique<net::api_service>(sys, std::move(resources), std::move(opts));
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
  if (!routers->empty())
    so.peer_cap_exempt = [routers = *routers](const std::string& peer) {
      return routers.contains(peer);
    };
  auto* api = out.api.get();
  so.connections_changed = [api](int delta) { api->http_metrics().connections_changed(delta); };
  // Protocol 1 (the releases before versioning) neither checks a call's protocol nor names
  // the node in its answers.
  std::unique_ptr<net::http_server> started;
  if (release.protocol.max >= 2) {
    // Shared by the answers, which may come after the server (and its handler) is gone.
    auto me =
        std::make_shared<const std::pair<std::string, std::string>>(cfg.node_id, release.version);
    auto server = net::http_server::start(
        so, [api, ours = release.protocol, me](net::http_request&& req, net::responder respond) {
          if (auto no = protocol_refusal(req, ours)) {
            add_node_headers(*no, me->first, me->second);
            return respond(std::move(*no));
          }
          api->handle(std::move(req), [me, respond = std::move(respond)](net::http_response r) {
            add_node_headers(r, me->first, me->second);
            respond(std::move(r));
          });
        });
    if (!server) return server.error();
    started = std::move(*server);
  } else {
    auto server =
        net::http_server::start(so, [api](net::http_request&& req, net::responder respond) {
          api->handle(std::move(req), std::move(respond));
        });
    if (!server) return server.error();
    started = std::move(*server);
  }
  out.server = std::move(started);
  return out;
}

}  // namespace ab::node
