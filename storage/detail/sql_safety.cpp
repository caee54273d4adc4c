// Holds and pauses in the shared SQL store: rows the claim consults, each change audited in
// its own transaction.

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

using args = std::vector<value>;

/// True for 1 to `limit` bytes of text without control characters.
bool is_text(const std::string& s, std::size_t limit) {
  return !s.empty() && s.size() <= limit && bounded_text(s, limit) == s;
}

void append_audit(connection& c, audit_entry e) {
  e = bounded(std::move(e));
  c.execute(
      "INSERT INTO audit (at, actor, source, action, target, decision, detail) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {e.at, e.actor, e.source, e.action, e.target, e.decision, e.detail});
}

hold hold_of(rows& r) {
  return {r.text(0), r.text(1), r.text(2), r.text(3), r.i64(4)};
}

pause pause_of(rows& r) {
  return {r.text(0), r.text(1), r.text(2), r.text(3), r.i64(4)};
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

/// Where a host sits: the keys its in-flight work is counted under.
struct placement {
  std::string site, rack, power_domain;
};

/// The in-flight counts of one claim: per site, per rack and per power domain (racks and
/// domains are keyed by site too: two sites may both have a rack "r1").
struct in_flight {
  std::map<std::string, int> site, rack, domain;
};

/// Why work at `p` cannot start under `limits` with `n` in flight, or an empty string.
std::string over_limit(const pacing_policy& limits, const in_flight& n, const placement& p) {
  auto at = [](const std::map<std::string, int>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  if (limits.per_rack > 0 && !p.rack.empty() &&
      at(n.rack, p.site + "/" + p.rack) >= limits.per_rack)
    return "rack " + p.rack + " has " + std::to_string(limits.per_rack) + " of " +
           std::to_string(limits.per_rack) + " hosts in flight";
  if (limits.per_power_domain > 0 && !p.power_domain.empty() &&
      at(n.domain, p.site + "/" + p.power_domain) >= limits.per_power_domain)
    return "power domain " + p.power_domain + " has " + std::to_string(limits.per_power_domain) +
           " of " + std::to_string(limits.per_power_domain) + " hosts in flight";
  if (limits.per_site > 0 && at(n.site, p.site) >= limits.per_site)
    return "site " + p.site + " has " + std::to_string(limits.per_site) + " of " +
           std::to_string(limits.per_site) + " hosts in flight";
  return {};
}

void count(in_flight& n, const placement& p) {
  ++n.site[p.site];
  if (!p.rack.empty()) ++n.rack[p.site + "/" + p.rack];
  if (!p.power_domain.empty()) ++n.domain[p.site + "/" + p.power_domain];
}

const char* hold_columns = "SELECT host, site, reason, owner, created_at FROM host_holds";
const char* pause_columns = "SELECT scope, target, reason, owner, created_at FROM pauses";

}  // namespace

caf::expected<std::vector<hold>> sql_store::holds_of(const std::vector<std::string>& hosts) {
  return read_alone("holds_of", [&](connection& c) -> caf::expected<std::vector<hold>> {
    std::vector<hold> out;
    for_each_run(hosts.size(), [&](std::size_t offset, std::size_t count) {
      args a(hosts.begin() + static_cast<std::ptrdiff_t>(offset),
             hosts.begin() + static_cast<std::ptrdiff_t>(offset + count));
      auto r = c.query(std::string{hold_columns} + " WHERE host IN " + placeholders(count), a);
      while (r->next()) out.push_back(hold_of(*r));
    });
    std::sort(out.begin(), out.end(), [](const hold& x, const hold& y) { return x.host < y.host; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const hold& x, const hold& y) { return x.host == y.host; }),
              out.end());
    return out;
  });
}

caf::expected<std::vector<hold>> sql_store::holds(const hold_filter& filter) {
  return read_alone("holds", [&](connection& c) -> caf::expected<std::vector<hold>> {
    std::string sql = std::string{hold_columns} + " WHERE host > ?";
    args a{filter.after};
    if (!filter.sites.empty()) {
      sql += " AND site IN " + placeholders(filter.sites.size());
      a.insert(a.end(), filter.sites.begin(), filter.sites.end());
    }
    a.emplace_back(static_cast<std::int64_t>(std::min<std::size_t>(filter.limit, 1000)));
    auto r = c.query(sql + " ORDER BY host LIMIT ?", a);
    std::vector<hold> out;
    while (r->next()) out.push_back(hold_of(*r));
    return out;
  });
}

caf::expected<hold> sql_store::place_hold(const hold& h, const std::string& source) {
  if (!is_text(h.reason, safety_reason_limit))
    return make_error(
        errc::invalid_argument,
        "a hold needs a reason (1 to " + std::to_string(safety_reason_limit) + " bytes of text)");
  if (!is_text(h.owner, audit_name_limit))
    return make_error(errc::invalid_argument, "a hold needs an owner (1 to 255 bytes of text)");
  return transact("place_hold", [&](connection& c) -> caf::expected<hold> {
    // The host row, locked: two holds of one host serialise on it, and so do a hold and a
    // submission for the host (submit locks the same row), so one sees the other.
    auto r = c.query("SELECT site FROM hosts WHERE name = ?" + pool_->sql().for_update, {h.host});
    if (!r->next()) return make_error(errc::not_found, "no host named '" + h.host + "'");
    hold out{h.host, r->text(0), h.reason, h.owner, clock_->now()};
    r.reset();
    auto held = c.query(std::string{hold_columns} + " WHERE host = ?", {h.host});
    if (held->next()) {
      auto old = hold_of(*held);
      return make_error(errc::conflict, "host " + h.host + " is on hold already by " + old.owner +
                                            ": " + old.reason);
    }
    held.reset();
    c.execute(
        "INSERT INTO host_holds (host, site, reason, owner, created_at) VALUES (?, ?, ?, ?, ?)",
        {out.host, out.site, out.reason, out.owner, out.created_at});
    append_audit(c, {0, out.created_at, out.owner, source, "hold.write", "host:" + out.host,
                     "placed", out.reason});
    return out;
  });
}

caf::expected<hold> sql_store::lift_hold(const std::string& host, const safety_actor& by) {
  return transact("lift_hold", [&](connection& c) -> caf::expected<hold> {
    auto r =
        c.query(std::string{hold_columns} + " WHERE host = ?" + pool_->sql().for_update, {host});
    if (!r->next()) return make_error(errc::not_found, "host " + host + " is not on hold");
    auto old = hold_of(*r);
    r.reset();
    c.execute("DELETE FROM host_holds WHERE host = ?", {host});
    append_audit(c, {0, clock_->now(), by.who, by.source, "hold.write", "host:" + host, "lifted",
                     "hold by " + old.owner + " (" + old.reason + ")" +
                         (by.note.empty() ? std::string{} : ": " + by.note)});
    return old;
  });
}

caf::expected<std::vector<pause>> sql_store::active_pauses() {
  return read_alone("active_pauses", [&](connection& c) -> caf::expected<std::vector<pause>> {
    auto r = c.query(std::string{pause_columns} + " ORDER BY scope, target", {});
    std::vector<pause> out;
    while (r->next()) out.push_back(pause_of(*r));
    return out;
  });
}

caf::expected<pause> sql_store::place_pause(const pause& p, const std::string& source) {
  if (!is_pause_scope(p.scope))
    return make_error(errc::invalid_argument, "a pause's scope is site, cluster or action, not '" +
                                                  bounded_text(p.scope, 64) + "'");
  if (!is_text(p.target, safety_target_limit))
    return make_error(errc::invalid_argument, "a pause needs the name of the " + p.scope +
                                                  " it pauses (1 to 255 bytes of text)");
  if (!is_text(p.reason, safety_reason_limit))
    return make_error(
        errc::invalid_argument,
        "a pause needs a reason (1 to " + std::to_string(safety_reason_limit) + " bytes of text)");
  if (!is_text(p.owner, audit_name_limit))
    return make_error(errc::invalid_argument, "a pause needs an owner (1 to 255 bytes of text)");
  return transact("place_pause", [&](connection& c) -> caf::expected<pause> {
    // Pause changes are rare: they serialise on the pacing lock row, so that two pauses of
    // one target never race to insert it.
    c.query("SELECT id FROM pacing_lock WHERE id = 1" + pool_->sql().for_update, {})->next();
    auto r = c.query(std::string{pause_columns} + " WHERE scope = ? AND target = ?",
                     {p.scope, p.target});
    if (r->next()) {
      auto old = pause_of(*r);
      return make_error(errc::conflict, old.scope + " " + old.target + " is paused already by " +
                                            old.owner + ": " + old.reason);
    }
    r.reset();
    pause out{p.scope, p.target, p.reason, p.owner, clock_->now()};
    c.execute(
        "INSERT INTO pauses (scope, target, reason, owner, created_at) VALUES (?, ?, ?, ?, ?)",
        {out.scope, out.target, out.reason, out.owner, out.created_at});
    append_audit(c, {0, out.created_at, out.owner, source, "pause.write",
                     out.scope + ":" + out.target, "paused", out.reason});
    return out;
  });
}

caf::expected<pause> sql_store::resume(const std::string& scope, const std::string& target,
                                       const safety_actor& by) {
  return transact("resume", [&](connection& c) -> caf::expected<pause> {
    auto r = c.query(
        std::string{pause_columns} + " WHERE scope = ? AND target = ?" + pool_->sql().for_update,
        {scope, target});
    if (!r->next())
      return make_error(errc::not_found, bounded_text(scope, 64) + " " +
                                             bounded_text(target, safety_target_limit) +
                                             " is not paused");
    auto old = pause_of(*r);
    r.reset();
    c.execute("DELETE FROM pauses WHERE scope = ? AND target = ?", {scope, target});
    append_audit(
        c, {0, clock_->now(), by.who, by.source, "pause.write", scope + ":" + target, "resumed",
            "pause by " + old.owner + " (" + old.reason + ")" +
                (by.note.empty() ? std::string{} : ": " + by.note)});
    return old;
  });
}

std::vector<claimed_job> sql_store::pace(connection& c, std::vector<claimed_job> jobs,
                                         time_ms now) {
  const auto& limits = policy_.pacing;
  bool limit_starts = limits.per_rack > 0 || limits.per_power_domain > 0 || limits.per_site > 0;
  // A request starts with its first job's first attempt; only then is it counted in flight.
  auto starts = [&](const claimed_job& j) {
    return limit_starts && j.position == 0 && j.attempt == 1 && contains(limits.actions, j.action);
  };
  auto powers_on = [&](const claimed_job& j) {
    return limits.power_ons_per_second > 0 && contains(limits.power_on_types, j.type);
  };
  if (std::none_of(jobs.begin(), jobs.end(),
                   [&](const auto& j) { return starts(j) || powers_on(j); }))
    return jobs;
  // Where the starting jobs' hosts sit. Read before the lock: a host's rack and power domain
  // are not what claims serialise on (the lock below is for the in-flight counts).
  std::unordered_map<std::string, placement> where;
  std::set<request_id> candidates;
  if (std::any_of(jobs.begin(), jobs.end(), starts)) {
    std::vector<std::string> hosts;
    for (const auto& j : jobs)
      if (starts(j)) {
        hosts.push_back(j.host);
        candidates.insert(j.request);
      }
    for_each_run(hosts.size(), [&](std::size_t offset, std::size_t n) {
      args a(hosts.begin() + static_cast<std::ptrdiff_t>(offset),
             hosts.begin() + static_cast<std::ptrdiff_t>(offset + n));
      auto r =
          c.query("SELECT name, rack, power_domain FROM hosts WHERE name IN " + placeholders(n), a);
      while (r->next()) where[r->text(0)] = {"", r->text(1), r->text(2)};
    });
  }
  // A start that no limit can bind: no site limit, and its host has no rack (or no rack
  // limit) and no power domain (or no domain limit). It neither waits nor counts against any
  // limit (in-flight counts are by site, rack and power domain, and hosts without a rack or a
  // domain add to none), so it needs neither the lock nor the in-flight counts: work on
  // hosts whose placement is unknown is not slowed by limits that cannot apply to it.
  auto bound = [&](const claimed_job& j) {
    if (!starts(j)) return false;
    if (limits.per_site > 0) return true;
    auto it = where.find(j.host);
    if (it == where.end()) return false;
    return (limits.per_rack > 0 && !it->second.rack.empty()) ||
           (limits.per_power_domain > 0 && !it->second.power_domain.empty());
  };
  if (std::none_of(jobs.begin(), jobs.end(),
                   [&](const auto& j) { return bound(j) || powers_on(j); }))
    return jobs;
  // Claims that start paced work serialise here, so that each counts what the others started
  // (MySQL reads committed rows; SQLite has one writer anyway).
  c.query("SELECT id FROM pacing_lock WHERE id = 1" + pool_->sql().for_update, {})->next();
  in_flight busy;
  if (std::any_of(jobs.begin(), jobs.end(), bound)) {
    // Running requests of the paced actions: few (the limits keep them so), found by the
    // requests_state index.
    args a;
    a.insert(a.end(), limits.actions.begin(), limits.actions.end());
    auto r = c.query(
        "SELECT r.id, r.site, COALESCE(h.rack, ''), COALESCE(h.power_domain, '') FROM requests r "
        "LEFT JOIN hosts h ON h.name = r.host WHERE r.state = 'running' AND r.action IN " +
            placeholders(limits.actions.size()),
        a);
    while (r->next())
      if (!candidates.count(r->i64(0))) count(busy, {r->text(1), r->text(2), r->text(3)});
  }
  std::map<std::string, std::int64_t> powered;
  if (std::any_of(jobs.begin(), jobs.end(), powers_on)) {
    c.execute("DELETE FROM power_ons WHERE at <= ?", {now - 1000});
    auto r =
        c.query("SELECT site, COUNT(*) FROM power_ons WHERE at > ? GROUP BY site", {now - 1000});
    while (r->next()) powered[r->text(0)] = r->i64(1);
  }
  std::vector<claimed_job> out;
  for (auto& j : jobs) {
    std::string why;
    placement p{j.site, "", ""};
    if (bound(j)) {
      if (auto it = where.find(j.host); it != where.end()) {
        p.rack = it->second.rack;
        p.power_domain = it->second.power_domain;
      }
      why = over_limit(limits, busy, p);
    }
    if (why.empty() && powers_on(j) && powered[j.site] >= limits.power_ons_per_second)
      why = "site " + j.site + " has had " + std::to_string(limits.power_ons_per_second) +
            " power-ons in the last second";
    if (!why.empty()) {
      // Still ready, looked at again after the recheck delay; the sentence tells why.
      c.execute("UPDATE jobs SET not_before = ?, error = ? WHERE id = ?",
                {now + std::max<time_ms>(limits.recheck_ms, 1), "pacing: " + why, j.id});
      continue;
    }
    if (bound(j)) count(busy, p);
    if (powers_on(j)) {
      ++powered[j.site];
      c.execute("INSERT INTO power_ons (site, at) VALUES (?, ?)", {j.site, now});
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace ab::storage::detail
