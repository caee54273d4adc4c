// Construction, schema, status queries, inventory, nodes and audit of the shared SQL store.

#include "storage/detail/sql_store.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "storage/detail/schema.hpp"

namespace ab::storage::detail {

namespace {

using args = std::vector<value>;

/// Columns of `requests` read by `read_request`, in its order.
constexpr const char* request_columns =
    "id, action, host, site, priority_class, submitter, idempotency_key, params, state, error, "
    "created_at, started_at, finished_at, chain_length, eta_at";

constexpr int request_column_count = 15;

/// Columns of `jobs` read by `read_job_view`, in its order.
constexpr const char* job_view_columns =
    "id, position, type, state, attempts, max_attempts, lease_owner, not_before, deadline, "
    "started_at, finished_at, result, error";

constexpr int job_view_column_count = 13;

/// `columns` (comma-separated) each prefixed with `prefix`, e.g. "r.".
std::string qualified(const char* columns, const char* prefix) {
  std::string out = prefix;
  for (const char* c = columns; *c; ++c) {
    out += *c;
    if (*c == ' ' && c > columns && c[-1] == ',') out += prefix;
  }
  return out;
}

/// The job whose `job_view_columns` start at column `at` of the current row.
job_view read_job_view(rows& r, int at) {
  job_view jv;
  jv.id = r.i64(at);
  jv.position = static_cast<int>(r.i64(at + 1));
  jv.type = r.text(at + 2);
  jv.state = parse_job_state(r.text(at + 3)).value_or(job_state::failed);
  jv.attempts = static_cast<int>(r.i64(at + 4));
  jv.max_attempts = static_cast<int>(r.i64(at + 5));
  jv.lease_owner = r.text(at + 6);
  jv.not_before = r.i64(at + 7);
  jv.deadline = r.i64(at + 8);
  jv.started_at = r.i64(at + 9);
  jv.finished_at = r.i64(at + 10);
  jv.result = r.text(at + 11);
  jv.error = r.text(at + 12);
  return jv;
}

request_view read_request(rows& r) {
  request_view v;
  v.id = r.i64(0);
  v.action = r.text(1);
  v.host = r.text(2);
  v.site = r.text(3);
  v.priority_class = r.text(4);
  v.submitter = r.text(5);
  v.idempotency_key = r.text(6);
  v.params = r.text(7);
  v.state = parse_request_state(r.text(8)).value_or(request_state::failed);
  v.error = r.text(9);
  v.created_at = r.i64(10);
  v.started_at = r.i64(11);
  v.finished_at = r.i64(12);
  v.chain_length = static_cast<int>(r.i64(13));
  v.eta_at_submission = r.i64(14);
  return v;
}

constexpr const char* host_columns =
    "name, site, bmc_endpoint, credential_ref, lifecycle_state, facts, created_at, updated_at, "
    "rack, power_domain";

host_record read_host(rows& r) {
  return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
          r.text(5), r.i64(6),  r.i64(7),  r.text(8), r.text(9)};
}

/// Runs `head` + `(?, ?, …)` over `keys` in runs of few shapes; returns the rows changed.
std::size_t delete_in(connection& c, const std::string& head, const args& keys) {
  std::size_t changed = 0;
  for_each_run(keys.size(), [&](std::size_t offset, std::size_t count) {
    changed += c.execute(head + placeholders(count),
                         args(keys.begin() + static_cast<std::ptrdiff_t>(offset),
                              keys.begin() + static_cast<std::ptrdiff_t>(offset + count)));
  });
  return changed;
}

/// The first column of every row `sql` returns.
args column_of(connection& c, const std::string& sql, const args& a, bool text) {
  args out;
  auto r = c.query(sql, a);
  while (r->next())
    if (text)
      out.emplace_back(r->text(0));
    else
      out.emplace_back(r->i64(0));
  return out;
}

caf::error unit_to_error(const caf::expected<caf::unit_t>& x) {
  return x ? caf::error{} : x.error();
}

}  // namespace

caf::error to_error(const db_error& e, const char* what) {
  auto code =
      e.what_kind() == db_error::kind::other ? errc::store_failure : errc::store_unavailable;
  return make_error(code, std::string{what} + ": " + e.what());
}

sql_store::sql_store(std::unique_ptr<connection_pool> pool, std::shared_ptr<const ab::clock> clk,
                     queue_policy policy)
    : pool_(std::move(pool)),
      clock_(std::move(clk)),
      policy_(std::move(policy)),
      log_(spdlog::get("storage")),
      rng_(std::random_device{}()) {
  if (!log_) log_ = spdlog::default_logger()->clone("storage");
}

caf::error sql_store::open(int schema_max) {
  for (int attempt = 1;; ++attempt) {
    try {
      auto version = migrate(*pool_, clock_->now(), schema_max);
      if (!version) return version.error();
      schema_version_ = *version;
      return caf::none;
    } catch (const db_error& e) {
      if (e.what_kind() == db_error::kind::other || attempt == 3) return to_error(e, "migrate");
    }
  }
}

time_ms sql_store::backoff(int attempts) {
  auto exp = std::min(attempts > 0 ? attempts - 1 : 0, 30);
  auto full = std::min(policy_.backoff_max_ms, policy_.backoff_base_ms << exp);
  // "Equal jitter": half the delay is fixed, the other half random, so that jobs that failed
  // together (a switch went down) do not all come back in the same millisecond.
  std::lock_guard<std::mutex> guard{rng_mutex_};
  return full / 2 + static_cast<time_ms>(rng_() % static_cast<std::uint64_t>(full / 2 + 1));
}

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void sql_store::note_retry(const char* what, int attempt, const db_error& e) {
  if (e.what_kind() != db_error::kind::connection) {
    // A deadlock or a certification failure: the usual price of concurrent writers.
    log_->debug("{}: retrying after {}", what, e.what());
    return;
  }
  std::int64_t none = 0;
  if (outage_since_ms_.compare_exchange_strong(none, steady_ms()))
    log_->warn("database connection failed, retrying store calls for up to {} s: {}",
               retry_budget_ms / 1000, e.what());
  else
    log_->debug("{}: attempt {} failed, retrying: {}", what, attempt, e.what());
}

void sql_store::note_success(const char* what, int attempts) {
  // A call that went through at once says little: others may still be failing.
  if (attempts == 1 || outage_since_ms_.load(std::memory_order_relaxed) == 0) return;
  auto since = outage_since_ms_.exchange(0);
  if (since == 0) return;
  log_->info("database reachable again after {:.1f} s ({} succeeded on attempt {})",
             static_cast<double>(steady_ms() - since) / 1000.0, what, attempts);
}

caf::error sql_store::note_give_up(const char* what, int attempts, const db_error& e) {
  log_->warn("{} failed after {} attempt(s): {}", what, attempts, e.what());
  return to_error(e, what);
}

bool sql_store::committed_before(const char* what, connection& c, const commit_marks& marks) {
  log_->warn("{}: the connection was lost during COMMIT; checking whether it committed", what);
  bool done = marks.found(c);
  if (done)
    log_->info("{}: it had committed; keeping its result", what);
  else
    log_->info("{}: it had not committed; running it again", what);
  return done;
}

std::int64_t sql_store::new_token() {
  std::lock_guard<std::mutex> guard{rng_mutex_};
  return static_cast<std::int64_t>(rng_() >> 1) | 1;
}

caf::error sql_store::ping() {
  return unit_to_error(transact("ping", [&](connection& c) -> caf::expected<caf::unit_t> {
    c.query("SELECT 1", {})->next();
    return caf::unit;
  }));
}

caf::expected<request_view> sql_store::request(request_id id) {
  // One statement, so one snapshot of the request, its host's hold, whether anything is paused
  // and its jobs, in one round trip: the GET of a request costs the database this alone. The
  // request, the hold and the jobs are primary-key lookups; the pauses a probe of a tiny table.
  // The jobs are put in order here, not by ORDER BY: MariaDB sorts the joined rows through a
  // temporary table, on disk as they have TEXT columns, which cost 2.5 times the statement.
  static const std::string sql = std::string{"SELECT "} + qualified(request_columns, "r.") +
                                 ", h.host, h.site, h.reason, h.owner, h.created_at, "
                                 "CASE WHEN EXISTS (SELECT 1 FROM pauses) THEN 1 ELSE 0 END, " +
                                 qualified(job_view_columns, "j.") +
                                 " FROM requests r LEFT JOIN host_holds h ON h.host = r.host"
                                 " LEFT JOIN jobs j ON j.id BETWEEN ? AND ? WHERE r.id = ?";
  constexpr int hold_at = request_column_count;
  constexpr int paused_at = hold_at + 5;
  constexpr int jobs_at = paused_at + 1;
  return read_alone("request", [&](connection& c) -> caf::expected<request_view> {
    auto r =
        c.query(sql, {id * max_chain_length, id * max_chain_length + max_chain_length - 1, id});
    if (!r->next())
      return make_error(errc::not_found, "request " + std::to_string(id) + " does not exist");
    auto v = read_request(*r);
    if (!r->is_null(hold_at))
      v.host_hold = hold{r->text(hold_at), r->text(hold_at + 1), r->text(hold_at + 2),
                         r->text(hold_at + 3), r->i64(hold_at + 4)};
    v.pauses_in_force = r->i64(paused_at) != 0;
    // Without jobs, the one row carries NULL job columns.
    if (!r->is_null(jobs_at)) {
      do v.jobs.push_back(read_job_view(*r, jobs_at));
      while (r->next());
      std::sort(v.jobs.begin(), v.jobs.end(),
                [](const job_view& a, const job_view& b) { return a.id < b.id; });
    }
    for (const auto& j : v.jobs) v.jobs_done += j.state == job_state::done ? 1 : 0;
    return v;
  });
}

caf::expected<std::vector<request_view>> sql_store::requests_by_id(
    const std::vector<request_id>& wanted) {
  std::vector<request_id> ids = wanted;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<request_view> out;
  if (ids.empty()) return out;
  constexpr std::size_t most = 64;
  if (ids.size() > most) {
    // In statements of `most` ids: each stays a small prepared statement.
    for (std::size_t at = 0; at < ids.size(); at += most) {
      auto part = requests_by_id(
          {ids.begin() + static_cast<std::ptrdiff_t>(at),
           ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), at + most))});
      if (!part) return part.error();
      std::move(part->begin(), part->end(), std::back_inserter(out));
    }
    return out;
  }
  if (ids.size() == 1) {
    auto r = request(ids[0]);
    if (r)
      out.push_back(std::move(*r));
    else if (!is(r.error(), errc::not_found))
      return r.error();
    return out;
  }
  // One statement, so one snapshot, in one round trip: the requests (with their hosts' holds
  // and whether anything is paused) and, below them, the jobs of their chains, each read by
  // primary key (one constant range of ids per chain). A join of the jobs on the requests
  // cannot use such a range per row (MariaDB checks the range for each record, ~20 times the
  // cost), hence a UNION ALL whose rows say by their NULLs which part they are. Padded to a
  // power of two ids (the last one repeated) so that a few prepared statements serve every
  // batch size.
  std::size_t padded = 2;
  while (padded < ids.size()) padded *= 2;
  const auto& sql = [&]() -> const std::string& {
    static std::mutex mutex;
    static std::map<std::size_t, std::string> made;
    std::lock_guard<std::mutex> guard{mutex};
    auto& text = made[padded];
    if (!text.empty()) return text;
    std::string marks, ranges, nulls;
    for (std::size_t i = 0; i < padded; ++i) {
      marks += i ? ", ?" : "?";
      ranges += i ? " OR j.id BETWEEN ? AND ?" : "j.id BETWEEN ? AND ?";
    }
    for (int i = 0; i < request_column_count + 6; ++i) nulls += "NULL, ";
    std::string job_nulls;
    for (int i = 0; i < job_view_column_count; ++i) job_nulls += i ? ", NULL" : "NULL";
    text = std::string{"SELECT "} + qualified(request_columns, "r.") +
           ", h.host, h.site, h.reason, h.owner, h.created_at, "
           "CASE WHEN EXISTS (SELECT 1 FROM pauses) THEN 1 ELSE 0 END, " +
           job_nulls +
           " FROM requests r LEFT JOIN host_holds h ON h.host = r.host WHERE r.id IN (" + marks +
           ") UNION ALL SELECT " + nulls + qualified(job_view_columns, "j.") +
           " FROM jobs j WHERE " + ranges;
    return text;
  }();
  constexpr int hold_at = request_column_count;
  constexpr int paused_at = hold_at + 5;
  constexpr int jobs_at = paused_at + 1;
  std::vector<value> params;
  params.reserve(padded * 3);
  for (std::size_t i = 0; i < padded; ++i) params.emplace_back(ids[std::min(i, ids.size() - 1)]);
  for (std::size_t i = 0; i < padded; ++i) {
    auto id = ids[std::min(i, ids.size() - 1)];
    params.emplace_back(id * max_chain_length);
    params.emplace_back(id * max_chain_length + max_chain_length - 1);
  }
  return read_alone(
      "requests_by_id", [&](connection& c) -> caf::expected<std::vector<request_view>> {
        std::vector<request_view> views;
        std::vector<job_view> jobs;
        auto r = c.query(sql, params);
        while (r->next()) {
          if (r->is_null(0)) {
            jobs.push_back(read_job_view(*r, jobs_at));
            continue;
          }
          auto v = read_request(*r);
          if (!r->is_null(hold_at))
            v.host_hold = hold{r->text(hold_at), r->text(hold_at + 1), r->text(hold_at + 2),
                               r->text(hold_at + 3), r->i64(hold_at + 4)};
          v.pauses_in_force = r->i64(paused_at) != 0;
          views.push_back(std::move(v));
        }
        std::sort(views.begin(), views.end(),
                  [](const request_view& a, const request_view& b) { return a.id < b.id; });
        std::sort(jobs.begin(), jobs.end(),
                  [](const job_view& a, const job_view& b) { return a.id < b.id; });
        // Both in id order: each request's jobs follow one another.
        auto j = jobs.begin();
        for (auto& v : views) {
          while (j != jobs.end() && j->id < v.id * max_chain_length) ++j;
          for (; j != jobs.end() && j->id < (v.id + 1) * max_chain_length; ++j) {
            v.jobs_done += j->state == job_state::done ? 1 : 0;
            v.jobs.push_back(std::move(*j));
          }
        }
        return views;
      });
}

caf::expected<request_page> sql_store::requests(const request_filter& f) {
  // The done jobs of each request too, for its progress: one primary-key lookup per job of its
  // chain (job ids are request id * max_chain_length + position). Not a range of the chain's
  // ids: MariaDB cannot use a range that depends on the outer row in a subquery, and counted
  // every done job of the table for each request instead (seconds per page on a big queue).
  const auto chain = std::to_string(max_chain_length);
  std::string sql =
      "WITH RECURSIVE positions(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM "
      "positions WHERE n < " +
      std::to_string(max_chain_length - 1) + ") SELECT " + request_columns +
      ", (SELECT COUNT(*) FROM positions p JOIN jobs j ON j.id = requests.id * " + chain +
      " + p.n WHERE p.n < requests.chain_length AND j.state = 'done') FROM "
      "requests WHERE 1 = 1";
  args a;
  auto add = [&](const char* clause, value v) {
    sql += clause;
    a.push_back(std::move(v));
  };
  if (f.state) add(" AND state = ?", std::string{to_string(*f.state)});
  if (!f.host.empty()) add(" AND host = ?", f.host);
  if (!f.action.empty()) add(" AND action = ?", f.action);
  if (!f.site.empty()) add(" AND site = ?", f.site);
  if (!f.sites.empty()) {
    sql += " AND site IN " + placeholders(f.sites.size());
    a.insert(a.end(), f.sites.begin(), f.sites.end());
  }
  if (f.since > 0) add(" AND created_at >= ?", f.since);
  if (f.before > 0) add(" AND id < ?", f.before);
  auto limit = std::clamp<std::size_t>(f.limit, 1, 1000);
  add(" ORDER BY id DESC LIMIT ?", static_cast<std::int64_t>(limit + 1));
  return read_alone("requests", [&](connection& c) -> caf::expected<request_page> {
    request_page page;
    auto r = c.query(sql, a);
    while (r->next()) {
      page.items.push_back(read_request(*r));
      page.items.back().jobs_done = static_cast<int>(r->i64(request_column_count));
    }
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_cursor = page.items.back().id;
    }
    return page;
  });
}

caf::expected<std::vector<queue_depth_row>> sql_store::queue_depth() {
  return transact("queue_depth", [&](connection& c) -> caf::expected<std::vector<queue_depth_row>> {
    std::vector<queue_depth_row> out;
    auto r = c.query(
        "SELECT type, priority_class, state, COUNT(*) FROM jobs WHERE state IN "
        "('waiting', 'ready', 'running', 'parked') GROUP BY type, priority_class, state "
        "ORDER BY type, priority_class, state",
        {});
    while (r->next())
      out.push_back({r->text(0), r->text(1), parse_job_state(r->text(2)).value_or(job_state::ready),
                     r->i64(3)});
    return out;
  });
}

caf::error sql_store::put_hosts(const std::vector<host_record>& hosts) {
  for (const auto& h : hosts)
    if (h.name.empty() || h.site.empty())
      return make_error(errc::invalid_argument, "a host needs a name and a site");
  return unit_to_error(transact("put_hosts", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto now = clock_->now();
    const auto& lock = pool_->sql().for_update;
    for (const auto& h : hosts) {
      // Two hosts never name one BMC (the unique index hosts_bmc_endpoint backs this up
      // against a concurrent registration, whose retry then lands here).
      auto other = c.query("SELECT name FROM hosts WHERE bmc_endpoint = ? AND name <> ?",
                           {h.bmc_endpoint, h.name});
      if (other->next())
        return make_error(errc::endpoint_taken, "host '" + h.name + "': BMC endpoint " +
                                                    h.bmc_endpoint + " is already host '" +
                                                    other->text(0) + "'");
      // The host row first: `submit` locks it too, so a change and a new request for the
      // same host serialise, and whichever commits second sees the other.
      auto r = c.query("SELECT site, bmc_endpoint, credential_ref FROM hosts WHERE name = ?" + lock,
                       {h.name});
      if (!r->next()) {
        r.reset();
        // A concurrent insert of the same name surfaces as a duplicate key, and the
        // transaction runs again (then as an update).
        c.execute(std::string{"INSERT INTO hosts ("} + host_columns +
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  {h.name, h.site, h.bmc_endpoint, h.credential_ref, h.lifecycle_state, h.facts,
                   now, now, h.rack, h.power_domain});
        continue;
      }
      bool moves =
          r->text(0) != h.site || r->text(1) != h.bmc_endpoint || r->text(2) != h.credential_ref;
      r.reset();
      if (moves) {
        // What a running job talks to must not change under it.
        auto busy = c.query("SELECT id FROM requests WHERE active_host = ?" + lock, {h.name});
        if (busy->next())
          return make_error(errc::host_busy, "host '" + h.name + "' has active request " +
                                                 std::to_string(busy->i64(0)) +
                                                 "; change its site, endpoint or credential "
                                                 "once it has finished");
      }
      // A known host keeps its lifecycle state, facts and creation time: registering it again
      // neither revives a decommissioned host nor forgets what discovery found.
      c.execute(
          "UPDATE hosts SET site = ?, bmc_endpoint = ?, credential_ref = ?, updated_at = ?, "
          "rack = ?, power_domain = ? WHERE name = ?",
          {h.site, h.bmc_endpoint, h.credential_ref, now, h.rack, h.power_domain, h.name});
    }
    return caf::unit;
  }));
}

caf::expected<host_record> sql_store::host(const std::string& name) {
  return read_alone("host", [&](connection& c) -> caf::expected<host_record> {
    auto r = c.query(std::string{"SELECT "} + host_columns + " FROM hosts WHERE name = ?", {name});
    if (!r->next())
      return make_error(errc::not_found, "host '" + name + "' is not in the inventory");
    return read_host(*r);
  });
}

caf::expected<std::vector<host_record>> sql_store::find_hosts(
    const std::vector<std::string>& names) {
  // Each run of names is a snapshot of its own: a submission checks every host again under its
  // row lock, in its own transaction.
  return read_alone("find_hosts", [&](connection& c) -> caf::expected<std::vector<host_record>> {
    std::vector<host_record> out;
    // IN lists of a few fixed lengths, so that prepared statements are reused.
    for_each_run(names.size(), [&](std::size_t offset, std::size_t count) {
      std::string sql = std::string{"SELECT "} + host_columns + " FROM hosts WHERE name IN (?";
      for (std::size_t i = 1; i < count; ++i) sql += ", ?";
      args a(names.begin() + static_cast<std::ptrdiff_t>(offset),
             names.begin() + static_cast<std::ptrdiff_t>(offset + count));
      auto r = c.query(sql + ")", a);
      while (r->next()) out.push_back(read_host(*r));
    });
    return out;
  });
}

caf::expected<std::vector<host_record>> sql_store::hosts(const host_filter& f) {
  std::string sql = std::string{"SELECT "} + host_columns + " FROM hosts WHERE name > ?";
  args a{f.after};
  if (!f.site.empty()) {
    sql += " AND site = ?";
    a.emplace_back(f.site);
  }
  if (!f.sites.empty()) {
    sql += " AND site IN " + placeholders(f.sites.size());
    a.insert(a.end(), f.sites.begin(), f.sites.end());
  }
  if (!f.lifecycle_state.empty()) {
    sql += " AND lifecycle_state = ?";
    a.emplace_back(f.lifecycle_state);
  }
  sql += " ORDER BY name LIMIT ?";
  a.emplace_back(static_cast<std::int64_t>(std::clamp<std::size_t>(f.limit, 1, 10000)));
  return read_alone("hosts", [&](connection& c) -> caf::expected<std::vector<host_record>> {
    std::vector<host_record> out;
    auto r = c.query(sql, a);
    while (r->next()) out.push_back(read_host(*r));
    return out;
  });
}

caf::error sql_store::set_host_state(const std::string& name, const std::string& from,
                                     const std::string& to) {
  return unit_to_error(transact("set_host_state", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto r = c.query("SELECT lifecycle_state FROM hosts WHERE name = ?" + pool_->sql().for_update,
                     {name});
    if (!r->next())
      return make_error(errc::not_found, "host '" + name + "' is not in the inventory");
    auto current = r->text(0);
    r.reset();
    if (!from.empty() && current != from)
      return make_error(errc::conflict, "host '" + name + "' is " + current + ", not " + from);
    c.execute("UPDATE hosts SET lifecycle_state = ?, updated_at = ? WHERE name = ?",
              {to, clock_->now(), name});
    return caf::unit;
  }));
}

caf::error sql_store::set_host_facts(const std::string& name, const std::string& facts) {
  return unit_to_error(transact("set_host_facts", [&](connection& c) -> caf::expected<caf::unit_t> {
    if (c.execute("UPDATE hosts SET facts = ?, updated_at = ? WHERE name = ?",
                  {facts, clock_->now(), name}) == 0)
      return make_error(errc::not_found, "host '" + name + "' is not in the inventory");
    return caf::unit;
  }));
}

caf::error sql_store::delete_host(const std::string& name) {
  return unit_to_error(transact("delete_host", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto r =
        c.query("SELECT id FROM requests WHERE active_host = ?" + pool_->sql().for_update, {name});
    if (r->next())
      return make_error(errc::host_busy,
                        "host '" + name + "' has active request " + std::to_string(r->i64(0)));
    r.reset();
    if (c.execute("DELETE FROM hosts WHERE name = ?", {name}) == 0)
      return make_error(errc::not_found, "host '" + name + "' is not in the inventory");
    return caf::unit;
  }));
}

caf::error sql_store::heartbeat(const node_record& n) {
  if (n.id.empty()) return make_error(errc::invalid_argument, "a node needs an id");
  return unit_to_error(transact("heartbeat", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto now = clock_->now();
    if (c.execute("UPDATE nodes SET site = ?, cluster = ?, address = ?, last_seen = ? WHERE id = ?",
                  {n.site, n.cluster, n.address, now, n.id}) == 0)
      c.execute("INSERT INTO nodes (id, site, cluster, address, last_seen) VALUES (?, ?, ?, ?, ?)",
                {n.id, n.site, n.cluster, n.address, now});
    return caf::unit;
  }));
}

caf::expected<std::vector<node_record>> sql_store::nodes() {
  return transact("nodes", [&](connection& c) -> caf::expected<std::vector<node_record>> {
    std::vector<node_record> out;
    auto r = c.query("SELECT id, site, cluster, address, last_seen FROM nodes ORDER BY id", {});
    while (r->next()) out.push_back({r->text(0), r->text(1), r->text(2), r->text(3), r->i64(4)});
    return out;
  });
}

caf::expected<std::int64_t> sql_store::audit(const audit_entry& entry) {
  auto e = bounded(entry);
  return transact("audit", [&](connection& c) -> caf::expected<std::int64_t> {
    c.execute(
        "INSERT INTO audit (at, actor, source, action, target, decision, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {e.at ? e.at : clock_->now(), e.actor, e.source, e.action, e.target, e.decision, e.detail});
    return c.last_insert_id();
  });
}

caf::error sql_store::audit(const std::vector<audit_entry>& entries) {
  if (entries.empty()) return {};
  auto res = transact("audit", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto now = clock_->now();
    // Multi-row inserts of a few fixed shapes, so that prepared statements are reused.
    for_each_run(entries.size(), [&](std::size_t offset, std::size_t count) {
      std::string sql =
          "INSERT INTO audit (at, actor, source, action, target, decision, detail) "
          "VALUES ";
      args a;
      for (std::size_t i = offset; i < offset + count; ++i) {
        auto e = bounded(entries[i]);
        sql += i == offset ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
        a.insert(a.end(),
                 {e.at ? e.at : now, e.actor, e.source, e.action, e.target, e.decision, e.detail});
      }
      c.execute(sql, a);
    });
    return caf::unit;
  });
  return res ? caf::error{} : res.error();
}

caf::expected<std::vector<audit_entry>> sql_store::audit_log(const audit_filter& f) {
  std::string sql =
      "SELECT id, at, actor, source, action, target, decision, detail FROM audit WHERE 1 = 1";
  args a;
  if (!f.actor.empty()) {
    sql += " AND actor = ?";
    a.emplace_back(f.actor);
  }
  if (f.since > 0) {
    sql += " AND at >= ?";
    a.emplace_back(f.since);
  }
  if (f.before > 0) {
    sql += " AND id < ?";
    a.emplace_back(f.before);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  a.emplace_back(static_cast<std::int64_t>(std::clamp<std::size_t>(f.limit, 1, 1000)));
  return transact("audit_log", [&](connection& c) -> caf::expected<std::vector<audit_entry>> {
    std::vector<audit_entry> out;
    auto r = c.query(sql, a);
    while (r->next())
      out.push_back({r->i64(0), r->i64(1), r->text(2), r->text(3), r->text(4), r->text(5),
                     r->text(6), r->text(7)});
    return out;
  });
}

caf::expected<prune_result> sql_store::prune(const retention& keep, std::size_t limit) {
  auto batch = static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 1, 10000));
  return transact("prune", [&](connection& c) -> caf::expected<prune_result> {
    prune_result out;
    auto now = clock_->now();
    if (keep.requests_ms > 0) {
      // Never sooner than the idempotency window: a pruned request frees its key. A request
      // finishes after it was created, so this also keeps every request created since
      // `idempotency_horizon`.
      auto cutoff = std::min(now - std::max(keep.requests_ms, min_request_retention_ms),
                             idempotency_horizon(policy_, now));
      // requests_finished (finished_at) makes this a range scan; active requests have 0.
      auto ids = column_of(c,
                           "SELECT id FROM requests WHERE finished_at > 0 AND finished_at < ? "
                           "AND state IN ('succeeded', 'failed', 'cancelled') "
                           "ORDER BY finished_at LIMIT ?",
                           {cutoff, batch}, false);
      if (!ids.empty()) {
        args keys;
        for_each_run(ids.size(), [&](std::size_t offset, std::size_t count) {
          auto some = column_of(
              c, "SELECT event_key FROM callbacks WHERE request_id IN " + placeholders(count),
              args(ids.begin() + static_cast<std::ptrdiff_t>(offset),
                   ids.begin() + static_cast<std::ptrdiff_t>(offset + count)),
              true);
          keys.insert(keys.end(), some.begin(), some.end());
        });
        out.events += delete_in(c, "DELETE FROM pending_events WHERE event_key IN ", keys);
        delete_in(c, "DELETE FROM callbacks WHERE request_id IN ", ids);
        // A chain's jobs are one range of the primary key.
        for (const auto& id : ids) {
          auto first = std::get<std::int64_t>(id) * max_chain_length;
          c.execute("DELETE FROM jobs WHERE id BETWEEN ? AND ?",
                    {first, first + max_chain_length - 1});
        }
        out.requests = delete_in(c, "DELETE FROM requests WHERE id IN ", ids);
      }
      // Events that no job ever parked for (its request ended first).
      auto stale = column_of(c,
                             "SELECT event_key FROM pending_events WHERE received_at < ? "
                             "ORDER BY received_at LIMIT ?",
                             {cutoff, batch}, true);
      out.events += delete_in(c, "DELETE FROM pending_events WHERE event_key IN ", stale);
    }
    if (keep.audit_ms > 0) {
      auto ids = column_of(c, "SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?",
                           {now - keep.audit_ms, batch}, false);
      out.audit = delete_in(c, "DELETE FROM audit WHERE id IN ", ids);
    }
    return out;
  });
}

}  // namespace ab::storage::detail
