#include "router/node_table.hpp"

#include <algorithm>
#include <tuple>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::router {

namespace {

std::string key_of(const std::string& site, const std::string& node_id) {
  return site + "/" + node_id;
}

std::shared_ptr<spdlog::logger> log() {
  static auto logger = [] {
    auto l = spdlog::get("router");
    return l ? l : spdlog::default_logger()->clone("router");
  }();
  return logger;
}

}  // namespace

static std::int64_t ns_of(mono_time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

namespace {

std::atomic<std::uint64_t> next_board_id{1};

/// One thread's copy of a board's latest snapshot.
struct cached_snapshot {
  std::uint64_t board = 0;
  std::uint64_t version = 0;
  std::shared_ptr<const table_snapshot> snap;
};

/// The snapshots of the boards this thread read last (a process has one board; tests more).
thread_local cached_snapshot snapshot_cache[4];
thread_local std::size_t snapshot_cache_next = 0;

}  // namespace

table_board::table_board(table_options options, std::shared_ptr<const ab::clock> clock)
    : options_(options),
      clock_(std::move(clock)),
      current_(std::make_shared<const table_snapshot>()),
      id_(next_board_id++) {}

const table_snapshot& table_board::local() const {
  auto version = version_.load(std::memory_order_acquire);
  cached_snapshot* slot = nullptr;
  for (auto& c : snapshot_cache)
    if (c.board == id_) slot = &c;
  if (!slot) {
    slot = &snapshot_cache[snapshot_cache_next++ % std::size(snapshot_cache)];
    slot->board = id_;
    slot->snap.reset();
  }
  // The version is read before the snapshot: a publish in between is seen at the next call.
  if (!slot->snap || slot->version != version) {
    slot->snap = current_.load();
    slot->version = version;
  }
  return *slot->snap;
}

bool table_board::usable(const table_snapshot::node& n, mono_time now) const {
  return n.incompatible.empty() && !n.hb.draining &&
         n.seen + std::chrono::milliseconds(options_.freshness_ms) >= now &&
         n.live->aside_until_ns.load(std::memory_order_relaxed) <= ns_of(now);
}

std::optional<node_choice> table_board::pick(const std::string& site,
                                             const std::vector<std::string>& exclude) {
  const auto* snap = &local();
  auto now = clock_->monotonic();
  // Fewest calls in flight first, then the lighter load; among equals, take turns.
  using rank = std::tuple<std::int64_t, double>;
  std::optional<rank> best;
  const table_snapshot::node* equal[16];
  std::size_t equals = 0;
  std::vector<const table_snapshot::node*> more;
  for (const auto& n : snap->nodes) {
    if (n.hb.site != site || !usable(n, now) ||
        std::find(exclude.begin(), exclude.end(), n.key) != exclude.end())
      continue;
    rank r{n.live->in_flight.load(std::memory_order_relaxed), n.hb.load};
    if (best && r > *best) continue;
    if (!best || r < *best) {
      best = r;
      equals = 0;
      more.clear();
    }
    if (equals < std::size(equal))
      equal[equals++] = &n;
    else
      more.push_back(&n);
  }
  if (!best) return std::nullopt;
  auto turn = turn_.fetch_add(1, std::memory_order_relaxed) % (equals + more.size());
  const auto& n = turn < equals ? *equal[turn] : *more[turn - equals];
  n.live->in_flight.fetch_add(1, std::memory_order_relaxed);
  return node_choice{n.key, n.hb.node_id, n.hb.site, n.hb.api_url, n.live, n.protocol};
}

void table_board::release(const node_choice& c) {
  if (c.live && c.live->in_flight.fetch_sub(1, std::memory_order_relaxed) <= 0)
    c.live->in_flight.fetch_add(1, std::memory_order_relaxed);
}

void table_board::refused(const node_choice& c) const {
  if (!c.live) return;
  auto now = ns_of(clock_->monotonic());
  auto until = now + std::int64_t{options_.set_aside_ms} * 1'000'000;
  if (c.live->aside_until_ns.exchange(until) <= now)
    log()->warn("node {} of site {} refused a connection: set aside for {} ms", c.node_id, c.site,
                options_.set_aside_ms);
  c.live->refusals.fetch_add(1, std::memory_order_relaxed);
}

std::optional<std::string> table_board::site_of(std::int64_t site_id) const {
  const auto* snap = &local();
  if (auto it = snap->sites_by_id.find(site_id); it != snap->sites_by_id.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> table_board::sole_live_site(std::size_t& sites) const {
  const auto& snap = local();
  auto now = clock_->monotonic();
  const std::string* found = nullptr;
  sites = 0;
  for (const auto& n : snap.nodes) {
    if (!usable(n, now)) continue;
    if (found && *found != n.hb.site) {
      sites = 2;
      return std::nullopt;
    }
    found = &n.hb.site;
    sites = 1;
  }
  if (!found) return std::nullopt;
  return *found;
}

std::vector<std::string> table_board::live_sites() const {
  auto snap = snapshot();
  auto now = clock_->monotonic();
  std::vector<std::string> out;
  for (const auto& n : snap->nodes)
    if (usable(n, now) && (out.empty() || out.back() != n.hb.site)) out.push_back(n.hb.site);
  return out;
}

std::vector<node_status> table_board::view() const {
  auto snap = snapshot();
  auto now = clock_->monotonic();
  std::vector<node_status> out;
  for (const auto& n : snap->nodes) {
    node_status s;
    s.node_id = n.hb.node_id;
    s.site = n.hb.site;
    s.site_id = n.hb.site_id;
    s.cluster = n.hb.cluster;
    s.api_url = n.hb.api_url;
    s.version = n.hb.version;
    s.load = n.hb.load;
    s.api_in_flight = n.hb.api_in_flight;
    s.in_flight = n.live->in_flight.load();
    s.heartbeat_age_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - n.seen).count();
    s.refusals = n.live->refusals.load();
    s.protocol_min = n.hb.protocol_min;
    s.protocol_max = n.hb.protocol_max;
    s.protocol = n.protocol;
    s.incompatible_reason = n.incompatible;
    s.health = n.seen + std::chrono::milliseconds(options_.freshness_ms) < now ? "stale"
               : !n.incompatible.empty()                                       ? "incompatible"
               : n.hb.draining                                                 ? "draining"
               : n.live->aside_until_ns.load() > ns_of(now)                    ? "set_aside"
                                                                               : "fresh";
    out.push_back(std::move(s));
  }
  return out;
}

node_table::node_table(table_options options, std::shared_ptr<const ab::clock> clock,
                       std::shared_ptr<table_board> board)
    : options_(options),
      clock_(std::move(clock)),
      board_(board ? std::move(board) : std::make_shared<table_board>(options, clock_)) {}

bool node_table::beat(const cluster::heartbeat& hb) {
  auto now = clock_->monotonic();
  if (forget_silent(now)) publish();
  if (auto held = sites_by_id_.find(hb.site_id);
      held != sites_by_id_.end() && held->second != hb.site) {
    // Request ids of one site id must lead to one site: the first site seen keeps it while
    // any of its nodes is remembered.
    bool taken = std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& kv) {
      return kv.second.hb.site == held->second && kv.second.hb.site_id == hb.site_id;
    });
    if (taken) {
      log()->warn("heartbeat of node {} of site {} names site id {}, which is site {}'s: ignored",
                  hb.node_id, hb.site, hb.site_id, held->second);
      return false;
    }
  }
  auto& e = nodes_[key_of(hb.site, hb.node_id)];
  if (e.seen != mono_time{} && hb.sent_at_ms <= e.hb.sent_at_ms) return false;
  bool was_live =
      e.seen != mono_time{} && e.seen + std::chrono::milliseconds(options_.freshness_ms) >= now;
  auto why = incompatibility(options_.protocol, {hb.protocol_min, hb.protocol_max}, "this router");
  // Said once per change, not at every heartbeat.
  if (!why.empty() &&
      (!was_live || why != incompatibility(options_.protocol,
                                           {e.hb.protocol_min, e.hb.protocol_max}, "this router")))
    log()->warn("node {} of site {} (version {}) is not routed to: it {}", hb.node_id, hb.site,
                hb.version, why);
  else if (why.empty() && !was_live)
    log()->info("node {} of site {} ({}, version {}, protocol {}) is live at {}", hb.node_id,
                hb.site, hb.cluster, hb.version,
                common_protocol(options_.protocol, {hb.protocol_min, hb.protocol_max}), hb.api_url);
  if (hb.draining && !e.hb.draining && was_live)
    log()->info("node {} of site {} drains: no new calls go to it", hb.node_id, hb.site);
  e.hb = hb;
  e.seen = now;
  // A node that announces itself again is worth a try again.
  e.live->aside_until_ns.store(0);
  sites_by_id_[hb.site_id] = hb.site;
  publish();
  return true;
}

void node_table::publish() {
  auto next = std::make_shared<table_snapshot>();
  next->nodes.reserve(nodes_.size());
  for (const auto& [key, e] : nodes_) {
    protocol_range theirs{e.hb.protocol_min, e.hb.protocol_max};
    next->nodes.push_back({key, e.hb, e.seen, e.live,
                           incompatibility(options_.protocol, theirs, "this router"),
                           common_protocol(options_.protocol, theirs)});
  }
  next->sites_by_id = sites_by_id_;
  board_->publish(std::move(next));
}

std::optional<node_choice> node_table::pick(const std::string& site,
                                            const std::vector<std::string>& exclude) {
  return board_->pick(site, exclude);
}

void node_table::release(const std::string& key) {
  if (auto it = nodes_.find(key); it != nodes_.end())
    table_board::release(node_choice{key, {}, {}, {}, it->second.live});
}

void node_table::refused(const std::string& key) {
  if (auto it = nodes_.find(key); it != nodes_.end())
    board_->refused(
        node_choice{key, it->second.hb.node_id, it->second.hb.site, {}, it->second.live});
}

std::optional<std::string> node_table::site_of(std::int64_t site_id) const {
  return board_->site_of(site_id);
}

std::vector<std::string> node_table::live_sites() const {
  return board_->live_sites();
}

std::vector<node_status> node_table::view() const {
  return board_->view();
}

bool node_table::forget_silent(mono_time now) {
  bool dropped = false;
  for (auto it = nodes_.begin(); it != nodes_.end();)
    if (it->second.seen + std::chrono::milliseconds(options_.forget_after_ms) < now) {
      it = nodes_.erase(it);
      dropped = true;
    } else {
      ++it;
    }
  return dropped;
}

namespace {

struct table_state {
  std::unique_ptr<node_table> table;
};

node_table_actor::behavior_type table_actor(node_table_actor::stateful_pointer<table_state> self,
                                            table_options options,
                                            std::shared_ptr<const ab::clock> clock,
                                            std::shared_ptr<table_board> board) {
  self->state.table = std::make_unique<node_table>(options, std::move(clock), std::move(board));
  return {
      [self](beat_atom, const beat_msg& m) { return self->state.table->beat(m.hb); },
      [self](pick_atom, const pick_msg& m) -> caf::result<node_choice> {
        if (auto c = self->state.table->pick(m.site, m.exclude)) return *c;
        return make_error(errc::unavailable, "no live node of site " + m.site);
      },
      [self](release_atom, const std::string& key) { self->state.table->release(key); },
      [self](refused_atom, const std::string& key) { self->state.table->refused(key); },
      [self](site_of_atom, std::int64_t id) {
        return self->state.table->site_of(id).value_or(std::string{});
      },
      [self](sites_atom) { return self->state.table->live_sites(); },
      [self](view_atom) { return self->state.table->view(); },
  };
}

}  // namespace

node_table_actor spawn_node_table(caf::actor_system& sys, table_options options,
                                  std::shared_ptr<const ab::clock> clock,
                                  std::shared_ptr<table_board> board) {
  return sys.spawn(table_actor, options, std::move(clock), std::move(board));
}

}  // namespace ab::router
