#include "node/node.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/bmc_handlers.hpp"
#include "actors/clock_check.hpp"
#include "actors/map_follower.hpp"
#include "actors/pruner.hpp"
#include "actors/services.hpp"
#include "actors/simulated_handlers.hpp"
#include "actors/supervisor.hpp"
#include "actors/wave_runner.hpp"
#include "config/site_cluster_map.hpp"
#include "core/error.hpp"
#include "metrics/work_metrics.hpp"
#include "node/bmc_access.hpp"
#include "node/heartbeat_sender.hpp"
#include "node/http_front.hpp"
#include "storage/store.hpp"

namespace ab::node {

namespace {

int fail(const std::string& what, int code) {
  std::fprintf(stderr, "ab-node: %s\n", what.c_str());
  return code;
}

}  // namespace

int run(const config::node_config& cfg, const config::cluster_map& file_map, sigset_t signals,
        release_info release) {
  if (release.version.empty()) release = this_release(AB_VERSION);
  auto log = spdlog::default_logger()->clone("node");
  spdlog::register_logger(log);
  for (const auto* name : {"storage", "actors", "net"})
    spdlog::register_logger(spdlog::default_logger()->clone(name));

  // Heartbeats to routers are signed with the deployment's secret: read it before anything.
  std::shared_ptr<node::heartbeat_secret> heartbeat_secret;
  if (!cfg.routers.empty()) {
    auto secret = heartbeat_secret::load(cfg.heartbeat_secret_file);
    if (!secret) return fail(message_of(secret.error()), 1);
    heartbeat_secret = std::move(*secret);
  }

  auto clk = std::make_shared<system_clock>();
  storage::store_options so;
  so.url = cfg.store;
  // The database belongs to one site: a node of another site_id refuses to start.
  so.site_id = cfg.site_id;
  so.pool_size = cfg.store_pool_size;
  so.policy = cfg.queue;
  so.schema_max = release.schema_max;
  auto opened = storage::open_store(so, clk);
  // A schema a newer release contracted: this node must be upgraded, not retried.
  if (!opened)
    return fail(message_of(opened.error()), is(opened.error(), errc::schema_too_new) ? 5 : 1);
  std::shared_ptr<storage::store> store = std::move(*opened);

  // One live process per node id: a second one refuses to start; a dead predecessor's leases
  // end now, so that its jobs are retried within seconds rather than at their deadline. The
  // heartbeat renews the claim; it outlives three missed beats (at least 30 s), so that a
  // database failover does not hand the id to another process.
  auto incarnation = actors::make_incarnation();
  auto claimed = store->claim_node(cfg.node_id, incarnation,
                                   std::max<time_ms>(30000, 3 * cfg.heartbeat_interval_ms));
  if (!claimed)
    return fail(message_of(claimed.error()), is(claimed.error(), errc::conflict) ? 3 : 1);
  std::shared_ptr<storage::node_claim> node_claim = std::move(*claimed);
  if (auto n = store->expire_predecessors(cfg.node_id, incarnation); !n)
    return fail(message_of(n.error()), 1);
  else if (*n > 0)
    log->warn("node {} restarted: {} job(s) its previous process held go to recovery now",
              cfg.node_id, *n);
  auto clock_ok = std::make_shared<actors::clock_check>([store] { return store->database_time(); },
                                                        clk, cfg.max_clock_skew_ms);
  if (auto err = clock_ok->check())
    return fail(message_of(err) + " (fix the clock, e.g. with NTP, or raise --max-clock-skew-ms)",
                4);

  // The map in force at start: the file's, or the site database's (which the file, if one is
  // given, seeds while the database holds none).
  auto map = file_map;
  if (cfg.cluster_map_source == "database") {
    auto site = config::read_site_cluster_map(*store);
    if (site && site->version == 0 && !cfg.cluster_map.empty()) {
      site = config::change_site_cluster_map(
          *store, file_map, 0, {"node:" + cfg.node_id, "seeded from " + cfg.cluster_map});
      // Another node seeded it first: theirs stands.
      if (!site && is(site.error(), errc::conflict)) site = config::read_site_cluster_map(*store);
      if (site)
        log->info("cluster map {} stored in the site database as version {}", cfg.cluster_map,
                  site->version);
    }
    if (!site) return fail(message_of(site.error()), is(site.error(), errc::bad_config) ? 2 : 1);
    map = site->map;
  }

  auto handlers = std::make_shared<actors::handler_registry>();
  // The API's base URL for installers: configured, or this node's address once it listens.
  auto api_base = std::make_shared<std::atomic<std::shared_ptr<const std::string>>>(
      std::make_shared<const std::string>(cfg.callback_base));
  if (config::has_handlers(cfg, "bmc"))
    actors::register_bmc_handlers(
        *handlers, make_bmc_context(cfg, store, clk, [api_base] { return *api_base->load(); }));
  if (config::has_handlers(cfg, "simulated"))
    actors::register_simulated_handlers(*handlers,
                                        {cfg.sim_step_ms, cfg.sim_log, cfg.node_id, clk});
  auto busy_workers = std::make_shared<std::atomic<std::int64_t>>(0);
  count_busy_workers(*handlers, busy_workers);

  caf::actor_system_config sys_cfg;
  // CAF 0.17's work-stealing scheduler: an idle thread spins briefly, then polls 500 times
  // with a 50 µs sleep in between (some 20,000 wake-ups a second per thread) before it waits
  // on its condition variable. The node's scheduled actors (pools, API resources) get a message
  // every few milliseconds under load, so its threads never got past the sleeping polls: 38% of
  // a busy node's CPU samples woke from them (docs/benchmarks.md). Without that phase an idle
  // thread waits at once and is woken when work is enqueued for it.
  sys_cfg.set("work-stealing.moderate-poll-attempts", 0);
  caf::actor_system sys{sys_cfg};
  constexpr time_ms day = time_ms{24} * 3600 * 1000;
  actors::supervisor_config sup_cfg{cfg, map, store, handlers, clk, incarnation, clock_ok};
  // Lease renewals on a connection of their own: behind the pools' claims for one of the
  // pool's connections, a renewal on a loaded machine could come after its leases ran out
  // and recovery gave the running jobs to another node. (SQLite's store has one connection
  // and short local transactions: renewals share it.)
  if (store->backend() != "sqlite") {
    auto lease_so = so;
    lease_so.pool_size = 1;
    auto leases = storage::open_store(lease_so, clk);
    if (!leases) return fail(message_of(leases.error()), 1);
    sup_cfg.leases = std::shared_ptr<storage::store>{std::move(*leases)};
  }
  sup_cfg.services = {actors::straggler_service(store, cfg.recovery_interval_ms),
                      actors::pruner_service(
                          store, {cfg.request_retention_days * day, cfg.audit_retention_days * day},
                          cfg.prune_interval_ms)};
  metrics::set_build_info("node", release.version);
  auto supervisor = actors::spawn_supervisor(sys, sup_cfg);

  auto live_map = std::make_shared<config::live_cluster_map>(map);
  auto heartbeats = std::make_shared<heartbeat_stats>(cfg.routers);
  auto http = start_node_http(
      sys, cfg, supervisor, live_map,
      [heartbeats, has = !cfg.routers.empty()](net::node_report& r) {
        if (!has) return;
        auto s = heartbeats->read();
        r.announced = s.announcing;
        r.not_announced_because = s.not_announcing_because;
        for (const auto& one : s.routers)
          r.routers.push_back({one.url, one.sent, one.failures, one.last_sent_ms, one.last_error});
      },
      release);
  if (!http) {
    caf::anon_send_exit(supervisor, caf::exit_reason::kill);
    return fail(message_of(http.error()), 1);
  }
  if (http->auth) {
    auto p = http->auth->current();
    log->info("access policy {}: {} accounts, {} groups, {} roles", cfg.policy, p->accounts(),
              p->groups(), p->roles());
    if (cfg.tls_cert.empty() && !config::is_loopback(config::split_host_port(cfg.listen)->first))
      log->warn(
          "tokens and passwords reach this node in clear text: no --tls-cert (fine only "
          "behind a TLS-terminating proxy)");
  } else {
    log->warn("the API is open: no --policy, every caller may do everything");
  }
  auto address =
      config::split_host_port(cfg.listen)->first + ":" + std::to_string(http->server->port());
  if (cfg.callback_base.empty())
    api_base->store(std::make_shared<const std::string>(
        (cfg.tls_cert.empty() ? "http://" : "https://") + address));
  // The queue gauges from the estimates' board: one read of the site's queue serves both.
  caf::anon_send(supervisor, actors::supervise_atom::value,
                 actors::queue_gauges_service(
                     {http->eta, cfg.node_id, cfg.site, cfg.metrics_interval_ms, clk}));
  storage::node_record me{cfg.node_id, cfg.site, "", address, 0};
  caf::anon_send(supervisor, actors::supervise_atom::value,
                 actors::heartbeat_service(store, me, cfg.heartbeat_interval_ms, node_claim,
                                           [] { ::kill(::getpid(), SIGTERM); }));
  // The site's wave plans, advanced by one node at a time (the wave lease in the database),
  // with the rules the API plans requests with.
  if (auto access = make_bmc_access(cfg)) {
    lifecycle::rules_options wave_rules;
    wave_rules.capabilities = [access = *access](const storage::host_record& h) {
      return host_capabilities(access, h);
    };
    caf::anon_send(supervisor, actors::supervise_atom::value,
                   actors::wave_runner_service(
                       store, std::make_shared<const lifecycle::rules>(std::move(wave_rules)), clk,
                       cfg.node_id, cfg.wave_interval_ms));
  }
  if (cfg.cluster_map_source == "database")
    caf::anon_send(supervisor, actors::supervise_atom::value,
                   actors::map_follower_service(store, cfg.cluster_map_poll_ms, live_map));
  else if (!cfg.cluster_map.empty())
    caf::anon_send(
        supervisor, actors::supervise_atom::value,
        actors::map_watcher_service(cfg.cluster_map, cfg.map_check_interval_ms, live_map));
  // The sender's settings, kept to tell the routers when the node drains.
  std::optional<heartbeat_sender_config> announcer;
  if (!cfg.routers.empty()) {
    auto url = advertised_url(cfg, http->server->port());
    if (!url) {
      caf::anon_send_exit(supervisor, caf::exit_reason::kill);
      http->server->stop();
      return fail(message_of(url.error()), 1);
    }
    heartbeat_sender_config hc;
    hc.identity = {cfg.node_id, cfg.site, cfg.site_id, "", *url, 0, 0, release.version, 0};
    hc.identity.protocol_min = release.protocol.min;
    hc.identity.protocol_max = release.protocol.max;
    hc.routers = cfg.routers;
    hc.secret = heartbeat_secret;
    hc.interval_ms = cfg.router_heartbeat_interval_ms;
    hc.calls.timeout =
        std::chrono::milliseconds(std::min<time_ms>(5000, cfg.router_heartbeat_interval_ms));
    hc.calls.ca_file = cfg.router_ca_file;
    hc.busy_workers = [busy_workers] { return busy_workers->load(); };
    hc.api_in_flight = [api = http->api.get()] {
      return static_cast<std::int64_t>(api->in_flight());
    };
    hc.stats = heartbeats;
    hc.clk = clk;
    if (auto err = check_identity(hc)) {
      caf::anon_send_exit(supervisor, caf::exit_reason::kill);
      http->server->stop();
      return fail(message_of(err), 2);
    }
    log->info("announcing {} to {} router(s) every {} ms (version {}, protocol {}-{})", *url,
              cfg.routers.size(), cfg.router_heartbeat_interval_ms, release.version,
              release.protocol.min, release.protocol.max);
    announcer = hc;
    caf::anon_send(supervisor, actors::supervise_atom::value,
                   heartbeat_sender_service(std::move(hc)));
  }
  std::printf("ab-node: node %s (site %s, cluster %s) listening on %s://%s, store %s\n",
              cfg.node_id.c_str(), cfg.site.c_str(), map.cluster_of(cfg.node_id).c_str(),
              cfg.tls_cert.empty() ? "http" : "https", address.c_str(),
              store->backend() == "sqlite" ? cfg.store.c_str() : "mysql");
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      log->info(
          "SIGHUP: reloading the cluster map, the access policy, the TLS certificate and the "
          "heartbeat secret");
      // Logged there; with a bad new pair the one in use stays.
      (void)http->server->reload_tls();
      caf::anon_send(supervisor, actors::check_atom::value);
      if (http->auth) {
        if (auto err = http->auth->reload())
          log->error("policy refused, the last good policy stays: {}", message_of(err));
        else
          log->info("policy {} reloaded", cfg.policy);
      }
      if (heartbeat_secret) {
        if (auto err = heartbeat_secret->reload())
          log->error("heartbeat secret refused, the one in use stays: {}", message_of(err));
        else
          log->info("heartbeat secret {} reloaded", cfg.heartbeat_secret_file);
      }
      continue;
    }
    break;
  }
  log->info("draining: no new claims; running jobs get {} ms", cfg.drain_timeout_ms);
  // Routers first: no new call comes once they know (protocol 2), and the API keeps serving
  // the calls they sent before until the drain is over.
  auto told_at = std::chrono::steady_clock::now();
  bool told = announcer && announcer->identity.protocol_max >= 2;
  if (announcer) announce_draining(*announcer, live_map->current()->cluster_of(cfg.node_id));
  bool clean = false;
  {
    caf::scoped_actor self{sys};
    self->request(supervisor, std::chrono::milliseconds(cfg.drain_timeout_ms + 10'000),
                  actors::drain_atom::value)
        .receive([&](bool ok) { clean = ok; },
                 [&](caf::error& err) { log->error("drain: {}", message_of(err)); });
  }
  // A drained supervisor has stopped its services; one that did not answer takes them down
  // with it (they are linked to it).
  caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  // A call a router sent just before it was told is still on its way: half a second for it.
  // Then the calls in flight get their answers before the listener closes (bounded: a stuck
  // call does not hold the exit).
  if (told) std::this_thread::sleep_until(told_at + std::chrono::milliseconds(500));
  for (int i = 0; i < 50 && http->api->in_flight() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  http->server->stop();
  log->info("stopped{}", clean ? "" : " (some jobs were handed back after the drain timeout)");
  return 0;
}

}  // namespace ab::node
