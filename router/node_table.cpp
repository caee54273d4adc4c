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

node_table::node_table(table_options options, std::shared_ptr<const ab::clock> clock)
    : options_(options), clock_(std::move(clock)) {}

bool node_table::beat(const cluster::heartbeat& hb) {
  auto now = clock_->monotonic();
  forget_silent(now);
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
  if (e.seen == mono_time{} || e.seen + std::chrono::milliseconds(options_.freshness_ms) < now)
    log()->info("node {} of site {} ({}) is live at {}", hb.node_id, hb.site, hb.cluster,
                hb.api_url);
  e.hb = hb;
  e.seen = now;
  // A node that announces itself again is worth a try again.
  e.aside_until = mono_time{};
  sites_by_id_[hb.site_id] = hb.site;
  return true;
}

bool node_table::usable(const entry& e, mono_time now) const {
  return e.seen + std::chrono::milliseconds(options_.freshness_ms) >= now && e.aside_until <= now;
}

std::optional<node_choice> node_table::pick(const std::string& site,
                                            const std::vector<std::string>& exclude) {
  auto now = clock_->monotonic();
  std::vector<std::pair<const std::string*, entry*>> candidates;
  for (auto& [key, e] : nodes_)
    if (e.hb.site == site && usable(e, now) &&
        std::find(exclude.begin(), exclude.end(), key) == exclude.end())
      candidates.emplace_back(&key, &e);
  if (candidates.empty()) return std::nullopt;
  // Fewest calls in flight first, then the lighter load; among equals, take turns.
  auto rank = [](const entry* e) { return std::make_tuple(e->in_flight, e->hb.load); };
  auto best = rank(candidates.front().second);
  for (const auto& c : candidates) best = std::min(best, rank(c.second));
  std::vector<std::pair<const std::string*, entry*>> equal;
  for (const auto& c : candidates)
    if (rank(c.second) == best) equal.push_back(c);
  auto& [key, e] = equal[turn_++ % equal.size()];
  ++e->in_flight;
  return node_choice{*key, e->hb.node_id, e->hb.site, e->hb.api_url};
}

void node_table::release(const std::string& key) {
  if (auto it = nodes_.find(key); it != nodes_.end() && it->second.in_flight > 0)
    --it->second.in_flight;
}

void node_table::refused(const std::string& key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return;
  auto now = clock_->monotonic();
  if (it->second.aside_until <= now)
    log()->warn("node {} of site {} refused a connection: set aside for {} ms",
                it->second.hb.node_id, it->second.hb.site, options_.set_aside_ms);
  it->second.aside_until = now + std::chrono::milliseconds(options_.set_aside_ms);
  ++it->second.refusals;
}

std::optional<std::string> node_table::site_of(std::int64_t site_id) const {
  if (auto it = sites_by_id_.find(site_id); it != sites_by_id_.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> node_table::live_sites() const {
  auto now = clock_->monotonic();
  std::vector<std::string> out;
  for (const auto& [key, e] : nodes_)
    if (usable(e, now) && (out.empty() || out.back() != e.hb.site)) out.push_back(e.hb.site);
  return out;
}

std::vector<node_status> node_table::view() const {
  auto now = clock_->monotonic();
  std::vector<node_status> out;
  for (const auto& [key, e] : nodes_) {
    node_status s;
    s.node_id = e.hb.node_id;
    s.site = e.hb.site;
    s.site_id = e.hb.site_id;
    s.cluster = e.hb.cluster;
    s.api_url = e.hb.api_url;
    s.version = e.hb.version;
    s.load = e.hb.load;
    s.api_in_flight = e.hb.api_in_flight;
    s.in_flight = e.in_flight;
    s.heartbeat_age_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - e.seen).count();
    s.refusals = e.refusals;
    s.health = e.seen + std::chrono::milliseconds(options_.freshness_ms) < now ? "stale"
               : e.aside_until > now                                           ? "set_aside"
                                                                               : "fresh";
    out.push_back(std::move(s));
  }
  return out;
}

void node_table::forget_silent(mono_time now) {
  for (auto it = nodes_.begin(); it != nodes_.end();)
    if (it->second.seen + std::chrono::milliseconds(options_.forget_after_ms) < now)
      it = nodes_.erase(it);
    else
      ++it;
}

namespace {

struct table_state {
  std::unique_ptr<node_table> table;
};

node_table_actor::behavior_type table_actor(node_table_actor::stateful_pointer<table_state> self,
                                            table_options options,
                                            std::shared_ptr<const ab::clock> clock) {
  self->state.table = std::make_unique<node_table>(options, std::move(clock));
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
                                  std::shared_ptr<const ab::clock> clock) {
  return sys.spawn(table_actor, options, std::move(clock));
}

}  // namespace ab::router
