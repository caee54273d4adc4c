#include "actors/services.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <tuple>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"
#include "metrics/queue_gauges.hpp"
#include "metrics/work_metrics.hpp"

namespace ab::actors {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("actors");
  return log ? log : spdlog::default_logger()->clone("actors");
}

struct straggler_state {
  static inline const char* name = "straggler";
};

straggler_actor::behavior_type straggler(straggler_actor::stateful_pointer<straggler_state> self,
                                         const std::shared_ptr<storage::job_queue>& store,
                                         time_ms interval_ms) {
  auto log = logger();
  self->send(self, recover_atom::value);
  return {
      [=](recover_atom) {
        constexpr std::size_t batch = 100;
        // Keep going while full batches come back: a dead node may have left many jobs.
        for (int round = 0; round < 50; ++round) {
          auto res = store->recover(batch);
          if (!res) {
            log->warn("recovery failed, trying again later: {}", message_of(res.error()));
            break;
          }
          metrics::straggler_recoveries().Increment(
              static_cast<double>(res->retried + res->failed));
          for (const auto& f : res->failed_requests)
            metrics::request_counters::finished(f.action, f.priority_class, "failed");
          if (res->retried + res->failed > 0)
            log->info("recovered stray jobs: {} retried, {} failed for good", res->retried,
                      res->failed);
          if (res->retried + res->failed < batch) break;
        }
        self->delayed_send(self, std::chrono::milliseconds(interval_ms), recover_atom::value);
      },
  };
}

struct heartbeat_state {
  storage::node_record node;
  std::shared_ptr<storage::node_claim> claim;
  std::function<void()> on_lost;
  static inline const char* name = "heartbeat";
};

heartbeat_actor::behavior_type heartbeat(heartbeat_actor::stateful_pointer<heartbeat_state> self,
                                         const std::shared_ptr<storage::node_registry>& store,
                                         storage::node_record node, const config::cluster_map& map,
                                         time_ms interval_ms,
                                         std::shared_ptr<storage::node_claim> claim,
                                         std::function<void()> on_lost) {
  auto log = logger();
  node.cluster = map.cluster_of(node.id);
  self->state.node = std::move(node);
  self->state.claim = std::move(claim);
  self->state.on_lost = std::move(on_lost);
  self->send(self, beat_atom::value);
  return {
      [=](beat_atom) {
        auto& st = self->state;
        // The claim's connection keeps the node id locked; a lost connection lost the lock,
        // and a process that started meanwhile under the same id took over this one's work.
        if (st.claim && !st.claim->refresh()) {
          log->critical("node id {} is now held by another process; this one stops", st.node.id);
          st.claim.reset();
          if (st.on_lost) st.on_lost();
          return;
        }
        if (auto err = store->heartbeat(self->state.node))
          log->warn("cannot record node {} in the registry: {}", self->state.node.id,
                    message_of(err));
        self->delayed_send(self, std::chrono::milliseconds(interval_ms), beat_atom::value);
      },
      [=](remap_atom, config::cluster_map& map) {
        const auto& cluster = map.cluster_of(self->state.node.id);
        if (cluster == self->state.node.cluster) return;
        self->state.node.cluster = cluster;
        self->send(self, beat_atom::value);
      },
  };
}

/// A file's identity for change detection: modification time and size.
std::pair<std::int64_t, std::int64_t> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {-1, -1};
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size)};
}

struct watcher_state {
  std::pair<std::int64_t, std::int64_t> stamp;
  config::cluster_map current;
  static inline const char* name = "map_watcher";
};

bool same(const config::cluster_map& a, const config::cluster_map& b) {
  if (a.default_cluster != b.default_cluster || a.nodes != b.nodes ||
      a.clusters.size() != b.clusters.size())
    return false;
  for (const auto& [name, def] : a.clusters) {
    auto it = b.clusters.find(name);
    if (it == b.clusters.end() || it->second.actions != def.actions ||
        it->second.workers != def.workers)
      return false;
  }
  return true;
}

map_watcher_actor::behavior_type map_watcher(
    map_watcher_actor::stateful_pointer<watcher_state> self, const std::string& path,
    config::cluster_map current, time_ms interval_ms, const supervisor_actor& supervisor,
    const std::shared_ptr<config::live_cluster_map>& live) {
  auto log = logger();
  self->state.stamp = stamp_of(path);
  self->state.current = std::move(current);
  auto reload = [=](bool forced) {
    auto stamp = stamp_of(path);
    if (!forced && stamp == self->state.stamp) return;
    self->state.stamp = stamp;
    auto map = config::load_cluster_map(path);
    if (!map) {
      log->error("cluster map not reloaded, the last good one stays in force: {}",
                 message_of(map.error()));
      return;
    }
    if (same(*map, self->state.current)) return;
    log->info("cluster map {} reloaded", path);
    self->state.current = *map;
    if (live) live->replace(*map);
    self->send(supervisor, remap_atom::value, *map);
  };
  self->delayed_send(self, std::chrono::milliseconds(interval_ms), tick_atom::value);
  return {
      [=](check_atom) { reload(true); },
      [=](tick_atom) {
        reload(false);
        self->delayed_send(self, std::chrono::milliseconds(interval_ms), tick_atom::value);
      },
  };
}

}  // namespace

straggler_actor spawn_straggler(caf::actor_system& sys, std::shared_ptr<storage::job_queue> store,
                                time_ms interval_ms) {
  return sys.spawn<caf::detached>(straggler, std::move(store), interval_ms);
}

heartbeat_actor spawn_heartbeat(caf::actor_system& sys,
                                std::shared_ptr<storage::node_registry> store,
                                storage::node_record node, config::cluster_map map,
                                time_ms interval_ms, std::shared_ptr<storage::node_claim> claim,
                                std::function<void()> on_lost) {
  return sys.spawn<caf::detached>(heartbeat, std::move(store), std::move(node), std::move(map),
                                  interval_ms, std::move(claim), std::move(on_lost));
}

map_watcher_actor spawn_map_watcher(caf::actor_system& sys, std::string path,
                                    config::cluster_map current, time_ms interval_ms,
                                    supervisor_actor supervisor,
                                    std::shared_ptr<config::live_cluster_map> live) {
  return sys.spawn<caf::detached>(map_watcher, std::move(path), std::move(current), interval_ms,
                                  std::move(supervisor), std::move(live));
}

service_spec straggler_service(std::shared_ptr<storage::job_queue> store, time_ms interval_ms) {
  return {"straggler",
          [store = std::move(store), interval_ms](caf::actor_system& sys, const supervisor_actor&,
                                                  const config::cluster_map&) {
            return caf::actor_cast<caf::actor>(spawn_straggler(sys, store, interval_ms));
          }};
}

service_spec heartbeat_service(std::shared_ptr<storage::node_registry> store,
                               storage::node_record node, time_ms interval_ms,
                               std::shared_ptr<storage::node_claim> claim,
                               std::function<void()> on_lost) {
  return {"heartbeat",
          [store = std::move(store), node = std::move(node), interval_ms, claim = std::move(claim),
           on_lost = std::move(on_lost)](caf::actor_system& sys, const supervisor_actor&,
                                         const config::cluster_map& map) {
            return caf::actor_cast<caf::actor>(
                spawn_heartbeat(sys, store, node, map, interval_ms, claim, on_lost));
          },
          true};
}

service_spec map_watcher_service(std::string path, time_ms interval_ms,
                                 std::shared_ptr<config::live_cluster_map> live) {
  return {"map_watcher",
          [path = std::move(path), interval_ms, live = std::move(live)](
              caf::actor_system& sys, const supervisor_actor& sup, const config::cluster_map& map) {
            return caf::actor_cast<caf::actor>(
                spawn_map_watcher(sys, path, map, interval_ms, sup, live));
          },
          false, true};
}

namespace {

struct queue_gauges_state {
  queue_gauges_config cfg;
  config::cluster_map map;
  static inline const char* name = "queue_gauges";
};

using queue_gauges_actor =
    caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<remap_atom, config::cluster_map>>;

/// Publishes the board's last overview, grouped by the cluster serving each action.
void publish(const queue_gauges_state& st, const std::shared_ptr<spdlog::logger>& log) {
  auto now = st.cfg.clk->now();
  auto o = st.cfg.board->overview();
  if (!o) {
    log->debug("queue gauges not set: the estimates' board could not read the queue");
    return;
  }
  std::map<std::tuple<std::string, std::string, std::string>, metrics::queue_gauge_row> rows;
  for (const auto& r : o->ready) {
    if (r.count == 0) continue;
    // An action no cluster serves waits under "none".
    auto cluster = st.map.cluster_serving(r.action).value_or("none");
    auto& row = rows[{cluster, r.type, r.priority_class}];
    row.cluster = cluster;
    row.job_type = r.type;
    row.priority_class = r.priority_class;
    row.depth += r.count;
    auto wait = std::max<double>(0, static_cast<double>(now - r.oldest_since) / 1000);
    row.oldest_wait_seconds = std::max(row.oldest_wait_seconds, wait);
  }
  std::vector<metrics::queue_gauge_row> queues;
  for (auto& [key, row] : rows) queues.push_back(std::move(row));
  std::map<std::string, std::int64_t> by_action;
  std::int64_t stuck = 0;
  for (const auto& a : o->active) {
    by_action[a.action] += a.count;
    stuck += a.stuck;
  }
  std::vector<metrics::active_gauge_row> active;
  for (const auto& [action, count] : by_action) active.push_back({action, count});
  metrics::publish_queue(st.cfg.site, queues, active, stuck);
}

queue_gauges_actor::behavior_type queue_gauges(
    queue_gauges_actor::stateful_pointer<queue_gauges_state> self, queue_gauges_config cfg,
    config::cluster_map map) {
  self->state.cfg = std::move(cfg);
  self->state.map = std::move(map);
  metrics::set_node_info(self->state.cfg.node_id, self->state.cfg.site,
                         self->state.map.cluster_of(self->state.cfg.node_id));
  auto log = logger();
  self->send(self, tick_atom::value);
  return {
      [self, log](tick_atom) {
        publish(self->state, log);
        self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.interval_ms),
                           tick_atom::value);
      },
      [self](remap_atom, config::cluster_map& m) {
        self->state.map = std::move(m);
        metrics::set_node_info(self->state.cfg.node_id, self->state.cfg.site,
                               self->state.map.cluster_of(self->state.cfg.node_id));
      },
  };
}

}  // namespace

service_spec queue_gauges_service(queue_gauges_config cfg) {
  return {"queue_gauges",
          [cfg = std::move(cfg)](caf::actor_system& sys, const supervisor_actor&,
                                 const config::cluster_map& map) {
            return caf::actor_cast<caf::actor>(sys.spawn<caf::detached>(queue_gauges, cfg, map));
          },
          true};
}

service_spec clock_check_service(std::shared_ptr<clock_check> check) {
  return {clock_check_name,
          [check = std::move(check)](caf::actor_system& sys, const supervisor_actor&,
                                     const config::cluster_map&) {
            return caf::actor_cast<caf::actor>(spawn_clock_check(sys, check));
          }};
}

}  // namespace ab::actors
