// Waves, the site's wave lease and the quotas of destructive actions in the shared SQL store.

#include <algorithm>

#include "core/error.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

constexpr const char* wave_columns =
    "id, action, priority_class, state, created_by, created_at, updated_at, group_by, "
    "max_unavailable, wave_size, pause_ms, failure_threshold, waves_total, current_wave, "
    "next_at, reason, quota_per_hour";

wave_record wave_of(rows& r) {
  wave_record w;
  w.id = r.i64(0);
  w.action = r.text(1);
  w.priority_class = r.text(2);
  w.state = r.text(3);
  w.created_by = r.text(4);
  w.created_at = r.i64(5);
  w.updated_at = r.i64(6);
  w.group_by = r.text(7);
  w.max_unavailable = static_cast<int>(r.i64(8));
  w.wave_size = static_cast<int>(r.i64(9));
  w.pause_ms = r.i64(10);
  w.failure_threshold = static_cast<int>(r.i64(11));
  w.waves_total = static_cast<int>(r.i64(12));
  w.current_wave = static_cast<int>(r.i64(13));
  w.next_at = r.i64(14);
  w.reason = r.text(15);
  w.quota_per_hour = r.i64(16);
  return w;
}

}  // namespace

caf::expected<quota_result> sql_store::charge_quota(const quota_charge& q) {
  if (q.subject.empty() || q.subject.size() > audit_name_limit || q.hosts < 0)
    return make_error(errc::invalid_argument, "a quota charge needs a subject and a host count");
  return transact("charge_quota", [&](connection& c) -> caf::expected<quota_result> {
    auto now = clock_->now();
    auto since = now - quota_window_ms;
    // The subject's row is the lock every charge of it takes first (SQLite: the write lock).
    c.execute(std::string{pool_->sql().name == "mysql" ? "INSERT IGNORE" : "INSERT OR IGNORE"} +
                  " INTO quota_subjects (subject) VALUES (?)",
              {q.subject});
    c.query("SELECT subject FROM quota_subjects WHERE subject = ?" + pool_->sql().for_update,
            {q.subject})
        ->next();
    // A charge counts for exactly one window: until `at + quota_window_ms`.
    c.execute("DELETE FROM quota_usage WHERE subject = ? AND at <= ?", {q.subject, since});
    auto r =
        c.query("SELECT at, hosts FROM quota_usage WHERE subject = ? ORDER BY at", {q.subject});
    std::vector<std::pair<time_ms, std::int64_t>> charges;
    quota_result out;
    while (r->next()) {
      charges.emplace_back(r->i64(0), r->i64(1));
      out.used += r->i64(1);
    }
    if (out.used + q.hosts > q.limit) {
      // The oldest charges expire first: when enough of them are gone, this one fits.
      auto over = out.used + q.hosts - q.limit;
      if (q.hosts <= q.limit)
        for (const auto& [at, hosts] : charges) {
          over -= hosts;
          if (over <= 0) {
            out.fits_at = at + quota_window_ms;
            break;
          }
        }
      return out;
    }
    c.execute("INSERT INTO quota_usage (subject, action, hosts, at) VALUES (?, ?, ?, ?)",
              {q.subject, q.action, q.hosts, now});
    out.charged = true;
    out.id = c.last_insert_id();
    return out;
  });
}

caf::error sql_store::settle_quota(std::int64_t id, std::int64_t hosts) {
  auto res = transact("settle_quota", [&](connection& c) -> caf::expected<caf::unit_t> {
    if (hosts <= 0)
      c.execute("DELETE FROM quota_usage WHERE id = ?", {id});
    else
      c.execute("UPDATE quota_usage SET hosts = ? WHERE id = ? AND hosts > ?", {hosts, id, hosts});
    return caf::unit;
  });
  return res ? caf::error{} : res.error();
}

caf::expected<std::int64_t> sql_store::quota_used(const std::string& subject) {
  return read_alone("quota_used", [&](connection& c) -> caf::expected<std::int64_t> {
    auto r = c.query("SELECT COALESCE(SUM(hosts), 0) FROM quota_usage WHERE subject = ? AND at > ?",
                     {subject, clock_->now() - quota_window_ms});
    return r->next() ? r->i64(0) : 0;
  });
}

caf::expected<wave_id> sql_store::create_wave(const wave_record& w) {
  if (w.hosts.empty() || w.action.empty() || w.created_by.empty())
    return make_error(errc::invalid_argument, "a wave needs an action, its creator and hosts");
  return transact("create_wave", [&](connection& c) -> caf::expected<wave_id> {
    auto now = clock_->now();
    c.execute(
        "INSERT INTO waves (action, priority_class, state, created_by, created_at, updated_at, "
        "group_by, max_unavailable, wave_size, pause_ms, failure_threshold, waves_total, "
        "current_wave, next_at, reason, quota_per_hour) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, 0, 0, '', ?)",
        {w.action, w.priority_class, bounded_text(w.created_by, audit_name_limit), now, now,
         w.group_by, std::int64_t{w.max_unavailable}, std::int64_t{w.wave_size}, w.pause_ms,
         std::int64_t{w.failure_threshold}, std::int64_t{w.waves_total}, w.quota_per_hour});
    auto id = c.last_insert_id();
    for (const auto& h : w.hosts)
      c.execute(
          "INSERT INTO wave_hosts (wave_id, host, wave_no, grp, request_id, state, error) "
          "VALUES (?, ?, ?, ?, 0, 'pending', '')",
          {id, h.host, std::int64_t{h.wave_no}, bounded_text(h.group, 255)});
    return id;
  });
}

caf::expected<wave_record> sql_store::wave(wave_id id) {
  return transact("wave", [&](connection& c) -> caf::expected<wave_record> {
    auto r = c.query(std::string{"SELECT "} + wave_columns + " FROM waves WHERE id = ?", {id});
    if (!r->next())
      return make_error(errc::not_found, "wave " + std::to_string(id) + " does not exist");
    auto w = wave_of(*r);
    auto hs = c.query(
        "SELECT host, wave_no, grp, request_id, state, error FROM wave_hosts WHERE wave_id = ? "
        "ORDER BY wave_no, host",
        {id});
    while (hs->next())
      w.hosts.push_back({hs->text(0), static_cast<int>(hs->i64(1)), hs->text(2), hs->i64(3),
                         hs->text(4), hs->text(5)});
    return w;
  });
}

caf::expected<std::vector<wave_record>> sql_store::waves(const wave_filter& f) {
  return read_alone("waves", [&](connection& c) -> caf::expected<std::vector<wave_record>> {
    std::string sql = std::string{"SELECT "} + wave_columns + " FROM waves WHERE 1 = 1";
    std::vector<value> args;
    if (!f.state.empty()) {
      sql += " AND state = ?";
      args.emplace_back(f.state);
    }
    if (f.before > 0) {
      sql += " AND id < ?";
      args.emplace_back(f.before);
    }
    sql += " ORDER BY id DESC LIMIT " + std::to_string(std::clamp<std::size_t>(f.limit, 1, 1000));
    auto r = c.query(sql, args);
    std::vector<wave_record> out;
    while (r->next()) out.push_back(wave_of(*r));
    return out;
  });
}

caf::expected<bool> sql_store::update_wave(const wave_record& w,
                                           const std::vector<wave_host>& hosts) {
  return transact("update_wave", [&](connection& c) -> caf::expected<bool> {
    auto r = c.query("SELECT state FROM waves WHERE id = ?" + pool_->sql().for_update, {w.id});
    if (!r->next())
      return make_error(errc::not_found, "wave " + std::to_string(w.id) + " does not exist");
    if (r->text(0) != "running") return false;
    c.execute(
        "UPDATE waves SET state = ?, current_wave = ?, next_at = ?, reason = ?, updated_at = ? "
        "WHERE id = ?",
        {w.state, std::int64_t{w.current_wave}, w.next_at, bounded_text(w.reason, 4096),
         clock_->now(), w.id});
    for (const auto& h : hosts)
      c.execute(
          "UPDATE wave_hosts SET request_id = ?, state = ?, error = ? WHERE wave_id = ? AND "
          "host = ?",
          {h.request, h.state, bounded_text(h.error, 4096), w.id, h.host});
    return true;
  });
}

caf::expected<bool> sql_store::stop_wave(wave_id id, const std::string& reason) {
  return transact("stop_wave", [&](connection& c) -> caf::expected<bool> {
    auto r = c.query("SELECT state FROM waves WHERE id = ?" + pool_->sql().for_update, {id});
    if (!r->next())
      return make_error(errc::not_found, "wave " + std::to_string(id) + " does not exist");
    if (r->text(0) != "running") return false;
    c.execute("UPDATE waves SET state = 'stopped', reason = ?, updated_at = ? WHERE id = ?",
              {bounded_text(reason, 4096), clock_->now(), id});
    return true;
  });
}

caf::expected<bool> sql_store::take_wave_lease(const std::string& owner, time_ms lease_ms) {
  return transact("take_wave_lease", [&](connection& c) -> caf::expected<bool> {
    auto now = clock_->now();
    // `term` changes with every renewal, so that the row always counts as changed.
    return c.execute(
               "UPDATE wave_lease SET owner = ?, expires_at = ?, term = term + 1 WHERE id = 1 AND "
               "(owner = ? OR expires_at < ?)",
               {owner, now + lease_ms, owner, now}) == 1;
  });
}

}  // namespace ab::storage::detail
