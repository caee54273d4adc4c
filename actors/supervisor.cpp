#include "actors/supervisor.hpp"

#include <cstdio>
#include <deque>
#include <map>
#include <random>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/worker.hpp"
#include "core/error.hpp"

namespace ab::actors {

namespace {

struct slot {
  std::string type;
  int index = 0;
  int incarnation = 0;
  worker_actor handle;
  /// When this slot's worker was restarted, within the restart window.
  std::deque<time_ms> restarts;
  /// Asked to stop because its pool shrank; not restarted.
  bool retiring = false;
};

struct supervisor_state {
  supervisor_config cfg;
  std::shared_ptr<spdlog::logger> log;
  std::string cluster;
  storage::action_filter actions;
  /// Live workers by actor address.
  std::map<caf::actor_addr, slot> slots;
  std::int64_t restarts = 0;
  std::int64_t given_up = 0;
  bool draining = false;
  caf::typed_response_promise<bool> drained;
  static inline const char* name = "supervisor";
};

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

std::string owner_of(const supervisor_state& st, const slot& s) {
  return storage::owner_prefix(st.cfg.node.node_id, st.cfg.incarnation) + s.type + "#" +
         std::to_string(s.index) + "." + std::to_string(s.incarnation);
}

/// What the node's workers claim: the actions of its cluster, of hosts in its own site only.
storage::action_filter claim_filter(const supervisor_config& cfg, const std::string& cluster) {
  auto f = cfg.map.filter_for(cluster);
  f.site = cfg.node.site;
  return f;
}

void spawn_slot(self_ptr self, slot s) {
  auto& st = self->state;
  worker_config wc;
  wc.type = s.type;
  wc.owner = owner_of(st, s);
  wc.actions = st.actions;
  wc.batch = st.cfg.node.claim_batch;
  wc.lease_ms = st.cfg.node.lease_ms;
  wc.poll_interval_ms = st.cfg.node.poll_interval_ms;
  wc.idle_poll_max_ms = st.cfg.node.idle_poll_max_ms;
  wc.store = st.cfg.store;
  wc.handler = st.cfg.handlers->find(s.type);
  wc.clk = st.cfg.clk;
  wc.clock_ok = st.cfg.clock_ok;
  s.handle = spawn_worker(self->system(), std::move(wc));
  self->monitor(s.handle);
  auto addr = s.handle.address();
  st.slots.emplace(addr, std::move(s));
}

int live_count(const supervisor_state& st, const std::string& type) {
  int n = 0;
  for (const auto& [addr, s] : st.slots)
    if (s.type == type && !s.retiring) ++n;
  return n;
}

/// Brings every pool to the size the configuration and the cluster say.
void resize(self_ptr self) {
  auto& st = self->state;
  for (const auto& type : st.cfg.handlers->types()) {
    auto want = desired_workers(st.cfg.node, st.cfg.map, st.cluster, type);
    auto have = live_count(st, type);
    for (int index = 0; have < want; ++index) {
      bool taken = false;
      for (const auto& [addr, s] : st.slots)
        taken |= s.type == type && s.index == index && !s.retiring;
      if (taken) continue;
      spawn_slot(self, slot{type, index, 0, {}, {}, false});
      ++have;
    }
    // Shrink from the highest slot down; a retiring worker finishes its job, releases the rest.
    for (auto it = st.slots.rbegin(); have > want && it != st.slots.rend(); ++it)
      if (it->second.type == type && !it->second.retiring) {
        it->second.retiring = true;
        self->send(it->second.handle, drain_atom::value);
        --have;
      }
  }
}

void on_worker_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto it = st.slots.find(msg.source);
  if (it == st.slots.end()) return;
  auto s = std::move(it->second);
  st.slots.erase(it);
  auto owner = owner_of(st, s);
  if (msg.reason) {
    // It crashed: whatever it held may have half-happened; recovery retries it at once.
    if (auto n = st.cfg.store->expire_held(owner); n && *n > 0)
      st.log->warn("{}: {} job(s) it held go to recovery", owner, *n);
  }
  if (st.draining) {
    if (st.slots.empty()) {
      st.drained.deliver(true);
      self->quit();
    }
    return;
  }
  if (s.retiring || !msg.reason) return;
  auto now = st.cfg.clk->now();
  while (!s.restarts.empty() && s.restarts.front() < now - st.cfg.node.restart_window_ms)
    s.restarts.pop_front();
  if (static_cast<int>(s.restarts.size()) >= st.cfg.node.max_restarts) {
    ++st.given_up;
    st.log->error("{} crashed {} times within {} ms; giving up on this worker slot ({})", owner,
                  s.restarts.size() + 1, st.cfg.node.restart_window_ms, message_of(msg.reason));
    return;
  }
  s.restarts.push_back(now);
  ++st.restarts;
  ++s.incarnation;
  st.log->warn("{} crashed ({}); restarting it as incarnation {}", owner, message_of(msg.reason),
               s.incarnation);
  spawn_slot(self, std::move(s));
}

supervisor_actor::behavior_type supervisor(self_ptr self, supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.log = spdlog::get("actors");
  if (!st.log) st.log = spdlog::default_logger()->clone("actors");
  st.cluster = st.cfg.map.cluster_of(st.cfg.node.node_id);
  st.actions = claim_filter(st.cfg, st.cluster);
  self->set_down_handler([self](caf::down_msg& msg) { on_worker_down(self, msg); });
  resize(self);
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
        for (const auto& [addr, s] : st.slots)
          if (!s.retiring) self->send(s.handle, filter_atom::value, st.actions);
        resize(self);
      },
      [self](renew_atom) {
        auto& st = self->state;
        auto again = std::chrono::milliseconds(st.cfg.node.renew_interval_ms);
        if (st.cfg.clock_ok) {
          bool was = st.cfg.clock_ok->in_bound();
          auto err = st.cfg.clock_ok->check();
          if (!st.cfg.clock_ok->in_bound()) {
            // Leases and deadlines are the database's time: a node whose clock is off must
            // neither keep leases (renewing) nor take jobs (its workers see the same verdict).
            st.log->error("not renewing leases nor claiming: {}", message_of(err));
            self->delayed_send(self, again, renew_atom::value);
            return;
          }
          if (!was)
            st.log->warn("clock back within {} ms of the database's; claiming again",
                         st.cfg.clock_ok->max_skew_ms());
        }
        std::vector<std::string> owners;
        for (const auto& [addr, s] : st.slots) owners.push_back(owner_of(st, s));
        if (auto res = st.cfg.store->renew(owners, st.cfg.node.lease_ms); !res)
          st.log->warn("cannot renew leases: {}", message_of(res.error()));
        self->delayed_send(self, again, renew_atom::value);
      },
      [self](status_atom) {
        auto& st = self->state;
        pool_status out;
        out.cluster = st.cluster;
        for (const auto& [addr, s] : st.slots)
          if (!s.retiring) ++out.workers[s.type];
        out.restarts = st.restarts;
        out.given_up = st.given_up;
        out.draining = st.draining;
        if (st.cfg.clock_ok) out.clock_refusals = st.cfg.clock_ok->refusals();
        return out;
      },
      [self](drain_atom) -> caf::result<bool> {
        auto& st = self->state;
        st.draining = true;
        st.drained = self->make_response_promise<bool>();
        if (st.slots.empty()) {
          st.drained.deliver(true);
          self->quit();
          return st.drained;
        }
        for (const auto& [addr, s] : st.slots) self->send(s.handle, drain_atom::value);
        self->delayed_send(self, std::chrono::milliseconds(st.cfg.node.drain_timeout_ms),
                           deadline_atom::value);
        return st.drained;
      },
      [self](deadline_atom) {
        auto& st = self->state;
        // Workers still busy after the drain timeout: hand their jobs back now rather than
        // after a lease expiry; a late completion of theirs is fenced out.
        for (const auto& [addr, s] : st.slots) {
          auto owner = owner_of(st, s);
          if (auto n = st.cfg.store->release_held(owner); n && *n > 0)
            st.log->warn("drain timeout: released {} job(s) of {}", *n, owner);
        }
        st.drained.deliver(st.slots.empty());
        self->quit();
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
  return sys.spawn<caf::detached>(supervisor, std::move(config));
}

}  // namespace ab::actors
