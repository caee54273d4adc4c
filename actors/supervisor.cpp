#include "actors/supervisor.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <set>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/detail/offspring.hpp"
#include "actors/pool.hpp"
#include "actors/services.hpp"
#include "core/error.hpp"

namespace ab::actors {

namespace {

/// The supervisor's own timers, apart from what others may send it.
using supervisor_internal =
    supervisor_actor::extend<caf::reacts_to<renew_atom>, caf::reacts_to<deadline_atom>>;

/// Restarts within the window, for the restart-intensity limit.
using restart_log = std::deque<time_ms>;

struct pool_entry {
  std::string type;
  /// Counts the pool's restarts: part of its lease owner name.
  int incarnation = 0;
  pool_actor handle;
  /// The leases its current incarnation holds: what the supervisor renews.
  std::shared_ptr<held_leases> held;
  /// What it last said (its workers: what it was asked for, until it says otherwise).
  pool_report last;
  /// Worker restarts and given-up slots of its earlier incarnations.
  std::int64_t past_restarts = 0;
  std::int64_t past_given_up = 0;
  restart_log restarts;
};

struct service_entry {
  service_spec spec;
  caf::actor handle;
  restart_log restarts;
};

struct supervisor_state {
  supervisor_config cfg;
  std::shared_ptr<spdlog::logger> log;
  std::string cluster;
  storage::action_filter actions;
  /// Pools by job type; every registered type has one (of zero workers, perhaps).
  std::map<std::string, pool_entry> pools;
  /// Services by name.
  std::map<std::string, service_entry> services;
  /// Pools and services: they end with the supervisor.
  detail::offspring children;
  /// Service (or `pool:TYPE`) → restarts since start.
  std::map<std::string, std::int64_t> service_restarts;
  std::int64_t services_given_up = 0;
  bool draining = false;
  bool drain_done = false;
  /// Pools that have not finished draining.
  std::set<std::string> draining_pools;
  caf::typed_response_promise<bool> drained;
  static inline const char* name = "supervisor";
};

using self_ptr = supervisor_internal::stateful_pointer<supervisor_state>;

supervisor_actor me(self_ptr self) {
  return caf::actor_cast<supervisor_actor>(self);
}

std::string owner_of(const supervisor_state& st, const pool_entry& p) {
  return storage::owner_prefix(st.cfg.node.node_id, st.cfg.incarnation) + p.type + "." +
         std::to_string(p.incarnation);
}

/// What the node's pools claim: the actions of its cluster, of hosts in its own site only.
storage::action_filter claim_filter(const supervisor_config& cfg, const std::string& cluster) {
  auto f = cfg.map.filter_for(cluster);
  f.site = cfg.node.site;
  f.cluster = cluster;
  return f;
}

/// True when another restart is within the limit (and records it); false: give up.
bool may_restart(const supervisor_state& st, restart_log& log) {
  auto now = st.cfg.clk->now();
  while (!log.empty() && log.front() < now - st.cfg.node.restart_window_ms) log.pop_front();
  if (static_cast<int>(log.size()) >= st.cfg.node.max_restarts) return false;
  log.push_back(now);
  return true;
}

template <class Handle>
void watch(self_ptr self, const Handle& h) {
  self->monitor(h);
  self->state.children.add(h);
}

void spawn_pool(self_ptr self, pool_entry& p) {
  auto& st = self->state;
  pool_config pc;
  pc.type = p.type;
  pc.owner = owner_of(st, p);
  pc.actions = st.actions;
  pc.workers = desired_workers(st.cfg.node, st.cfg.map, st.cluster, p.type);
  pc.batch = st.cfg.node.claim_batch;
  pc.lease_ms = st.cfg.node.lease_ms;
  pc.poll_interval_ms = st.cfg.node.poll_interval_ms;
  pc.idle_poll_max_ms = st.cfg.node.idle_poll_max_ms;
  pc.max_restarts = st.cfg.node.max_restarts;
  pc.restart_window_ms = st.cfg.node.restart_window_ms;
  pc.store = st.cfg.store;
  pc.handler = st.cfg.handlers->find(p.type);
  // A new incarnation holds nothing yet: the leases of one that died are expired, not renewed.
  p.held = std::make_shared<held_leases>();
  pc.held = p.held;
  pc.clk = st.cfg.clk;
  pc.clock_ok = st.cfg.clock_ok;
  pc.parent = caf::actor_cast<pool_parent_actor>(self);
  p.last = {p.type, pc.workers, 0, 0};
  p.handle = actors::spawn_pool(self->system(), std::move(pc));
  watch(self, p.handle);
}

void spawn_service(self_ptr self, service_entry& s) {
  s.handle = s.spec.spawn(self->system(), me(self), self->state.cfg.map);
  if (s.handle) watch(self, s.handle);
}

/// Asks every pool for the size the configuration and the cluster say.
void resize(self_ptr self) {
  auto& st = self->state;
  for (auto& [type, p] : st.pools) {
    auto want = desired_workers(st.cfg.node, st.cfg.map, st.cluster, type);
    p.last.workers = want;
    self->send(p.handle, resize_atom::value, want);
  }
}

void stop_services(self_ptr self) {
  for (auto& [name, s] : self->state.services)
    if (s.handle) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
}

void finish_drain(self_ptr self, bool clean) {
  auto& st = self->state;
  if (st.drain_done) return;
  st.drain_done = true;
  stop_services(self);
  st.drained.deliver(clean);
  self->quit();
}

void on_pool_down(self_ptr self, pool_entry& p, const caf::down_msg& msg) {
  auto& st = self->state;
  if (st.draining) {
    st.draining_pools.erase(p.type);
    if (st.draining_pools.empty()) finish_drain(self, true);
    return;
  }
  auto owner = owner_of(st, p);
  // Its workers went with it; what they held may have half-happened: recovery retries it now.
  if (auto n = st.cfg.store->expire_held(owner); n && *n > 0)
    st.log->warn("{}: {} job(s) it held go to recovery", owner, *n);
  p.past_restarts += p.last.restarts;
  p.past_given_up += p.last.given_up;
  auto name = "pool:" + p.type;
  if (!may_restart(st, p.restarts)) {
    ++st.services_given_up;
    p.handle = pool_actor{};
    p.last.workers = 0;
    st.log->error("{} crashed too often within {} ms; giving it up ({})", name,
                  st.cfg.node.restart_window_ms, message_of(msg.reason));
    return;
  }
  ++st.service_restarts[name];
  ++p.incarnation;
  st.log->warn("{} crashed ({}); restarting it", name, message_of(msg.reason));
  spawn_pool(self, p);
}

void on_service_down(self_ptr self, service_entry& s, const caf::down_msg& msg) {
  auto& st = self->state;
  s.handle = caf::actor{};
  if (st.draining || !msg.reason) return;
  if (!may_restart(st, s.restarts)) {
    ++st.services_given_up;
    st.log->error("service {} crashed too often within {} ms; giving it up ({})", s.spec.name,
                  st.cfg.node.restart_window_ms, message_of(msg.reason));
    return;
  }
  ++st.service_restarts[s.spec.name];
  st.log->warn("service {} crashed ({}); restarting it", s.spec.name, message_of(msg.reason));
  spawn_service(self, s);
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  st.children.remove(msg.source);
  for (auto& [type, p] : st.pools)
    if (p.handle && p.handle.address() == msg.source) return on_pool_down(self, p, msg);
  for (auto& [name, s] : st.services)
    if (s.handle && s.handle.address() == msg.source) return on_service_down(self, s, msg);
}

void add_service(self_ptr self, service_spec spec) {
  auto& st = self->state;
  auto name = spec.name;
  auto& s = st.services[name];
  if (s.handle) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
  s.spec = std::move(spec);
  spawn_service(self, s);
}

/// Extends the leases that the pools hold now, each under its own token: not every running
/// job of their owners, which would keep alive a job that a pool no longer works on (a
/// hand-back that did not reach the database) until its deadline, or for ever.
void renew_leases(self_ptr self) {
  auto& st = self->state;
  std::vector<storage::job_lease> held;
  for (const auto& [type, p] : st.pools)
    if (p.handle && p.held) {
      auto mine = p.held->leases();
      held.insert(held.end(), mine.begin(), mine.end());
    }
  if (held.empty()) return;
  auto& leases = st.cfg.leases ? *st.cfg.leases : *st.cfg.store;
  if (auto res = leases.renew(held, st.cfg.node.lease_ms); !res)
    st.log->warn("cannot renew leases: {}", message_of(res.error()));
}

supervisor_internal::behavior_type supervisor(self_ptr self, supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.log = spdlog::get("actors");
  if (!st.log) st.log = spdlog::default_logger()->clone("actors");
  st.cluster = st.cfg.map.cluster_of(st.cfg.node.node_id);
  st.actions = claim_filter(st.cfg, st.cluster);
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  st.children.stop_with(self);
  for (const auto& type : st.cfg.handlers->types()) {
    auto& p = st.pools[type];
    p.type = type;
    spawn_pool(self, p);
  }
  auto specs = std::move(st.cfg.services);
  // The clock check is a service like the others: monitored, restarted, counted.
  if (st.cfg.clock_ok && std::none_of(specs.begin(), specs.end(), [](const service_spec& s) {
        return s.name == clock_check_name;
      }))
    specs.push_back(clock_check_service(st.cfg.clock_ok));
  for (auto& spec : specs) add_service(self, std::move(spec));
  self->send(self, renew_atom::value);
  return {
      [self](remap_atom, config::cluster_map& map) {
        auto& st = self->state;
        if (st.draining) return;
        st.cfg.map = std::move(map);
        auto cluster = st.cfg.map.cluster_of(st.cfg.node.node_id);
        if (cluster != st.cluster)
          st.log->info("node {} moves from cluster {} to {}", st.cfg.node.node_id, st.cluster,
                       cluster);
        st.cluster = cluster;
        st.actions = claim_filter(st.cfg, cluster);
        for (const auto& [type, p] : st.pools)
          if (p.handle) self->send(p.handle, filter_atom::value, st.actions);
        resize(self);
        for (const auto& [name, s] : st.services)
          if (s.handle && s.spec.follows_map)
            caf::anon_send(s.handle, remap_atom::value, st.cfg.map);
      },
      [self](check_atom) {
        for (const auto& [name, s] : self->state.services)
          if (s.handle && s.spec.checks_on_hup) caf::anon_send(s.handle, check_atom::value);
      },
      [self](supervise_atom, service_spec& spec) {
        if (!self->state.draining) add_service(self, std::move(spec));
      },
      [self](report_atom, pool_report& r) {
        auto& st = self->state;
        if (auto it = st.pools.find(r.type); it != st.pools.end()) it->second.last = r;
      },
      [self](advance_atom, const std::string& from) {
        // Chains moved on: their next jobs may be of any type, so the other pools poll soon.
        for (const auto& [type, p] : self->state.pools)
          if (type != from && p.handle && p.last.workers > 0)
            self->send(p.handle, poke_atom::value);
      },
      [self](wake_atom, storage::request_id id) {
        // A callback made the request's parked job claimable: its pool claims it now instead of
        // at its next poll. One read of the request says which job (and so which pool) woke.
        auto& st = self->state;
        if (st.draining) return;
        auto r = st.cfg.store->request(id);
        if (!r) return;
        for (const auto& j : r->jobs) {
          if (j.state != storage::job_state::ready) continue;
          if (auto it = st.pools.find(j.type); it != st.pools.end() && it->second.handle)
            self->send(it->second.handle, wake_atom::value);
        }
      },
      [self](renew_atom) {
        auto& st = self->state;
        if (st.draining) return;
        auto again = std::chrono::milliseconds(st.cfg.node.renew_interval_ms);
        self->delayed_send(self, again, renew_atom::value);
        if (!st.cfg.clock_ok) return renew_leases(self);
        auto it = st.services.find(clock_check_name);
        if (it == st.services.end() || !it->second.handle) {
          // The clock check is down (restarting, or given up): its last verdict holds.
          if (st.cfg.clock_ok->in_bound()) renew_leases(self);
          return;
        }
        // The check reads the database's clock: the clock check service does it, and the
        // leases are renewed only when it says the clock is within the bound.
        self->request(caf::actor_cast<clock_check_actor>(it->second.handle), again,
                      check_atom::value)
            .then(
                [self](bool ok) {
                  if (ok && !self->state.draining) renew_leases(self);
                },
                [self](caf::error&) {
                  auto& st = self->state;
                  if (st.cfg.clock_ok->in_bound() && !st.draining) renew_leases(self);
                });
      },
      [self](status_atom) {
        auto& st = self->state;
        pool_status out;
        out.cluster = st.cluster;
        for (const auto& [type, p] : st.pools) {
          if (p.last.workers > 0) out.workers[type] = p.last.workers;
          out.restarts += p.past_restarts + p.last.restarts;
          out.given_up += p.past_given_up + p.last.given_up;
        }
        out.draining = st.draining;
        if (st.cfg.clock_ok) out.clock_refusals = st.cfg.clock_ok->refusals();
        out.service_restarts = st.service_restarts;
        for (const auto& [name, s] : st.services) out.service_restarts.try_emplace(name, 0);
        return out;
      },
      [self](drain_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (st.draining) return st.drain_done;
        st.draining = true;
        st.drained = self->make_response_promise<bool>();
        for (const auto& [type, p] : st.pools) {
          if (!p.handle) continue;
          st.draining_pools.insert(type);
          self->request(p.handle, caf::infinite, drain_atom::value)
              .then(
                  [self, type = type](bool) {
                    auto& st = self->state;
                    st.draining_pools.erase(type);
                    if (st.draining_pools.empty()) finish_drain(self, true);
                  },
                  // A pool that went down is counted by the down handler.
                  [](caf::error&) {});
        }
        if (st.draining_pools.empty()) {
          finish_drain(self, true);
          return st.drained;
        }
        self->delayed_send(self, std::chrono::milliseconds(st.cfg.node.drain_timeout_ms),
                           deadline_atom::value);
        return st.drained;
      },
      [self](deadline_atom) {
        auto& st = self->state;
        if (st.drain_done) return;
        // Workers still busy after the drain timeout: hand their jobs back now rather than
        // after a lease expiry; a late completion of theirs is fenced out.
        for (const auto& type : st.draining_pools) {
          auto& p = st.pools[type];
          auto owner = owner_of(st, p);
          if (auto n = st.cfg.store->release_held(owner); n && *n > 0)
            st.log->warn("drain timeout: released {} job(s) of {}", *n, owner);
          if (p.handle) self->send_exit(p.handle, caf::exit_reason::user_shutdown);
        }
        finish_drain(self, st.draining_pools.empty());
      },
  };
}

}  // namespace

std::string make_incarnation() {
  std::random_device rd;
  auto id = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return hex;
}

int desired_workers(const config::node_config& node, const config::cluster_map& map,
                    const std::string& cluster, const std::string& type) {
  if (auto c = map.clusters.find(cluster); c != map.clusters.end())
    if (auto w = c->second.workers.find(type); w != c->second.workers.end()) return w->second;
  if (auto w = node.workers.find(type); w != node.workers.end()) return w->second;
  if (auto w = node.workers.find("default"); w != node.workers.end()) return w->second;
  return 0;
}

supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_config config) {
  return caf::actor_cast<supervisor_actor>(sys.spawn<caf::detached>(supervisor, std::move(config)));
}

}  // namespace ab::actors
