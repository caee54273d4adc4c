#include "router/run.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "cluster/heartbeat.hpp"
#include "config/node_config.hpp"
#include "core/error.hpp"
#include "lifecycle/rules.hpp"
#include "metrics/work_metrics.hpp"
#include "net/http/server.hpp"
#include "router/router.hpp"
#include "storage/types.hpp"

namespace ab::router {

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "ab-router: %s\n", what.c_str());
  return 1;
}

}  // namespace

int run(const router_config& cfg, sigset_t signals) {
  auto log = spdlog::default_logger()->clone("router");
  spdlog::register_logger(log);
  for (const auto* name : {"net"})
    if (!spdlog::get(name)) spdlog::register_logger(spdlog::default_logger()->clone(name));

  auto secret = cluster::read_secret_file(cfg.heartbeat_secret_file);
  if (!secret) return fail(message_of(secret.error()));
  auto rules = hostname_rules::make(cfg.hostname_rules);
  if (!rules) return fail(message_of(rules.error()));
  client_options co;
  co.threads = cfg.client_threads;
  co.pool_size = cfg.pool_size;
  co.queue_limit = cfg.pool_queue;
  co.connect_timeout = std::chrono::milliseconds(cfg.connect_timeout_ms);
  co.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
  co.idle_timeout = std::chrono::milliseconds(cfg.pool_idle_ms);
  co.ca_file = cfg.node_ca_file;
  auto client = node_client::start(co);
  if (!client) return fail(message_of(client.error()));
  std::shared_ptr<node_client> nodes = std::move(*client);

  caf::actor_system_config sys_cfg;
  // Only heartbeats reach an actor (calls never do): one scheduler thread is plenty, and no
  // idle worker polls beside the I/O threads.
  sys_cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{sys_cfg};
  auto clk = std::make_shared<system_clock>();
  table_options to{cfg.freshness_ms, cfg.set_aside_ms};
  auto board = std::make_shared<table_board>(to, clk);
  auto table = spawn_node_table(sys, to, clk, board);
  router_options ro;
  ro.heartbeat_secret = *secret;
  ro.max_in_flight = cfg.max_in_flight;
  ro.max_in_flight_per_client = cfg.max_in_flight_per_client;
  auto proxies = ip_networks::parse(cfg.trusted_proxies);
  if (!proxies) return fail(message_of(proxies.error()));
  ro.trusted_proxies = *proxies;
  ro.rules = std::move(*rules);
  ro.host_cache_ms = cfg.host_cache_ms;
  ro.clock = clk;
  if (!cfg.policy.empty()) {
    // The nodes' policy, read with the words a node with the default classes knows.
    auth::authenticator_options ao;
    ao.policy_file = cfg.policy;
    std::vector<std::string> classes;
    for (const auto& [cls, credit] : storage::queue_policy{}.class_credit_ms)
      classes.push_back(cls);
    ao.words = {lifecycle::rules{}.actions(), classes};
    auto a = auth::authenticator::open(std::move(ao));
    if (!a) return fail(message_of(a.error()));
    ro.auth = std::move(*a);
  }
  auto auth = ro.auth;
  if (!cfg.metrics_token_file.empty()) {
    // The same rules as the heartbeat secret: mode 600, not empty; its errors name the file.
    auto token = cluster::read_secret_file(cfg.metrics_token_file);
    if (!token) return fail("metrics_token_file: " + message_of(token.error()));
    ro.metrics_token = std::move(*token);
  }
  metrics::set_build_info("router", AB_VERSION);
  auto service = std::make_shared<router_service>(sys, table, board, nodes, std::move(ro));

  auto hp = config::split_host_port(cfg.listen);
  if (!hp) return fail(message_of(hp.error()));
  net::server_options so;
  so.host = hp->first;
  so.port = hp->second;
  so.threads = cfg.server_threads;
  so.body_limit = cfg.body_limit;
  so.tls = {cfg.tls_cert, cfg.tls_key, std::chrono::milliseconds(cfg.tls_check_interval_ms)};
  so.max_connections = cfg.max_connections;
  so.max_connections_per_peer = cfg.max_connections_per_peer;
  so.first_byte_timeout = std::chrono::milliseconds(cfg.first_byte_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  so.probe_paths = {"/healthz"};
  so.connections_changed = [service](int delta) { service->connections_changed(delta); };
  // A load balancer carries many clients' connections: the per-client limit is the router's.
  if (!proxies->empty())
    so.peer_cap_exempt = [nets = *proxies](const std::string& peer) { return nets.contains(peer); };
  auto server =
      net::http_server::start(so, [service](net::http_request&& req, net::responder respond) {
        service->handle(std::move(req), std::move(respond));
      });
  if (!server) {
    caf::anon_send_exit(table, caf::exit_reason::kill);
    return fail(message_of(server.error()));
  }
  std::printf("ab-router: freshness %lld ms, listening on %s://%s:%u\n",
              static_cast<long long>(cfg.freshness_ms), cfg.tls_cert.empty() ? "http" : "https",
              hp->first.c_str(), static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    log->info("SIGHUP: reloading the TLS certificate, the heartbeat secret and the policy");
    (void)(*server)->reload_tls();
    if (auto err = service->reload_heartbeat_secret(cfg.heartbeat_secret_file))
      log->warn("keeping the heartbeat secret in use: {}", message_of(err));
    else
      log->info("heartbeat secret reloaded from {}", cfg.heartbeat_secret_file);
    if (!cfg.metrics_token_file.empty()) {
      if (auto err = service->reload_metrics_token(cfg.metrics_token_file))
        log->warn("keeping the metrics token in use: {}", message_of(err));
      else
        log->info("metrics token reloaded from {}", cfg.metrics_token_file);
    }
    if (auth) {
      if (auto err = auth->reload())
        log->warn("policy refused, the last good policy stays: {}", message_of(err));
      else
        log->info("policy {} reloaded", cfg.policy);
    }
  }
  log->info("stopping");
  // The client first: its connections made on the server's I/O threads close on them.
  nodes->stop();
  (*server)->stop();
  caf::anon_send_exit(table, caf::exit_reason::user_shutdown);
  return 0;
}

}  // namespace ab::router
