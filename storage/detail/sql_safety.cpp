// Holds and pauses in the shared SQL store: rows the claim consults, each change audited in
// its own transaction.

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

}  // namespace ab::storage::detail
