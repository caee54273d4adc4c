// The queue: submit, claim, complete, fail, park/wake, release, renew, recover, cancel.

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "storage/detail/schema.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

using args = std::vector<value>;

std::int64_t first_job(request_id r) {
  return r * max_chain_length;
}
std::int64_t last_job(request_id r) {
  return r * max_chain_length + max_chain_length - 1;
}

caf::error validate(const request_spec& s, const queue_policy& policy) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "request for host '" + s.host + "': " + why);
  };
  if (s.action.empty()) return bad("action is empty");
  if (s.host.empty()) return bad("host is empty");
  if (s.chain.empty()) return bad("job chain is empty");
  if (s.chain.size() > static_cast<std::size_t>(max_chain_length))
    return bad("job chain has " + std::to_string(s.chain.size()) + " jobs, more than " +
               std::to_string(max_chain_length));
  if (!policy.class_credit_ms.count(s.priority_class))
    return bad("unknown priority class '" + s.priority_class + "'");
  for (const auto& j : s.chain) {
    if (j.type.empty()) return bad("a job type is empty");
    if (j.max_attempts < 1) return bad("job '" + j.type + "' allows fewer than 1 attempt");
    if (j.timeout_ms < 0) return bad("job '" + j.type + "' has a negative timeout");
  }
  return caf::none;
}

/// The reason a request failed, naming the job that failed it.
std::string failure_message(job_id id, const std::string& type, int attempts,
                            const std::string& reason) {
  return "job " + std::to_string(id % max_chain_length) + " (" + type + ") failed after " +
         std::to_string(attempts) + " attempt(s): " + reason;
}

/// Ids bound to one statement of the claim and completion paths, at most.
constexpr std::size_t max_id_run = 64;

/// The placeholders of a statement for `count` ids: `count` rounded up to a power of two, so
/// that any number of ids up to `max_id_run` costs one statement of one of seven shapes (each
/// prepared once per connection). `append_ids` fills the placeholders beyond `count` with the
/// run's last id again, which changes nothing for an `IN`.
std::size_t shape_of(std::size_t count) {
  std::size_t shape = 1;
  while (shape < count) shape *= 2;
  return shape;
}

/// Calls `fn(offset, count)` for the ids `[0, n)` in runs of at most `max_id_run`.
template <class F>
void for_each_id_run(std::size_t n, F&& fn) {
  for (std::size_t offset = 0; offset < n; offset += max_id_run)
    fn(offset, std::min(max_id_run, n - offset));
}

/// Appends the ids in `ids[offset, offset + count)` to `out`, then the last of them again up
/// to `shape_of(count)` ids.
void append_ids(args& out, const std::vector<std::int64_t>& ids, std::size_t offset,
                std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out.emplace_back(ids[offset + i]);
  for (auto i = count; i < shape_of(count); ++i) out.emplace_back(ids[offset + count - 1]);
}

/// Runs `sql_prefix (?,…) sql_suffix` for every id, one statement per `max_id_run` ids;
/// `leading` are bound before the ids. Returns the rows changed.
std::uint64_t execute_in(connection& c, const std::string& sql_prefix,
                         const std::vector<std::int64_t>& ids, const args& leading,
                         const std::string& sql_suffix = "") {
  std::uint64_t changed = 0;
  for_each_id_run(ids.size(), [&](std::size_t offset, std::size_t count) {
    args a = leading;
    append_ids(a, ids, offset, count);
    changed += c.execute(sql_prefix + placeholders(shape_of(count)) + sql_suffix, a);
  });
  return changed;
}

/// The holds of the hosts of the unsettled `specs`, as the sentence a submission is refused
/// with, by host. The caller has locked the host rows, as `place_hold` does first.
std::unordered_map<std::string, std::string> holds_in(connection& c,
                                                      const std::vector<request_spec>& specs,
                                                      const std::vector<bool>& settled) {
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < specs.size(); ++i)
    if (!settled[i]) hosts.push_back(specs[i].host);
  std::unordered_map<std::string, std::string> out;
  for_each_run(hosts.size(), [&](std::size_t offset, std::size_t count) {
    args a(hosts.begin() + static_cast<std::ptrdiff_t>(offset),
           hosts.begin() + static_cast<std::ptrdiff_t>(offset + count));
    auto r = c.query(
        "SELECT host, owner, reason FROM host_holds WHERE host IN " + placeholders(count), a);
    while (r->next())
      out[r->text(0)] = "host " + r->text(0) + " is on hold by " + r->text(1) + ": " + r->text(2);
  });
  return out;
}

/// Appends to a claim's WHERE clause what holds and pauses keep from it: jobs of held hosts,
/// of paused actions, and everything when the claim's site or cluster is paused (a term
/// without the job's columns, which both planners evaluate once, before walking the index).
/// The subqueries lock nothing: a hold or pause committed before the claim began is seen.
/// The terms on the job's columns are counts, not NOT EXISTS: MariaDB turns a NOT EXISTS into
/// an IN subquery and, not knowing that the claim stops after a few rows, materialises every
/// hold and action pause into a temporary table for each claim (1.4 ms with 1,000 holds against
/// 0.3 ms for a primary-key probe per job visited).
void append_safety(std::string& sql, args& a, const action_filter& actions) {
  sql +=
      " AND (SELECT COUNT(*) FROM host_holds hh WHERE hh.host = jobs.host) = 0"
      " AND (SELECT COUNT(*) FROM pauses pa WHERE pa.scope = 'action' AND "
      "pa.target = jobs.action) = 0";
  if (actions.site.empty())
    sql +=
        " AND (SELECT COUNT(*) FROM pauses ps WHERE ps.scope = 'site' AND "
        "ps.target = jobs.site) = 0";
  else {
    sql += " AND NOT EXISTS (SELECT 1 FROM pauses ps WHERE ps.scope = 'site' AND ps.target = ?)";
    a.emplace_back(actions.site);
  }
  if (!actions.cluster.empty()) {
    sql += " AND NOT EXISTS (SELECT 1 FROM pauses pc WHERE pc.scope = 'cluster' AND pc.target = ?)";
    a.emplace_back(actions.cluster);
  }
}

/// The `park_locks` row of `event_key`: FNV-1a, the same in every process and build.
std::int64_t park_slot(const std::string& event_key) {
  return static_cast<std::int64_t>(fnv1a64(event_key) % park_lock_slots);
}

}  // namespace

void sql_store::lock_event(connection& c, const std::string& event_key) {
  c.query("SELECT slot FROM park_locks WHERE slot = ?" + pool_->sql().for_update,
          {park_slot(event_key)})
      ->next();
}

caf::expected<std::vector<submit_outcome>> sql_store::submit(
    const std::vector<request_spec>& specs) {
  for (const auto& s : specs)
    if (auto err = validate(s, policy_)) return err;
  using outcomes = caf::expected<std::vector<submit_outcome>>;
  return transact("submit", [&](connection& c, commit_marks& marks) -> outcomes {
    auto now = clock_->now();
    std::vector<submit_outcome> out(specs.size());
    std::vector<bool> settled(specs.size(), false);
    // A key seen before returns its request (or a conflict if what was asked differs).
    // `locking`: read the latest committed rows rather than the transaction's snapshot.
    auto settle_by_key = [&](std::size_t i, bool locking) {
      auto r = c.query(
          "SELECT id, fingerprint FROM requests WHERE submitter = ? AND idempotency_key = ? AND "
          "host = ?" +
              (locking ? pool_->sql().for_update : std::string{}),
          {specs[i].submitter, specs[i].idempotency_key, specs[i].host});
      if (!r->next()) return;
      out[i].id = r->i64(0);
      out[i].what = r->text(1) == specs[i].fingerprint ? submit_outcome::status::existing
                                                       : submit_outcome::status::key_conflict;
      settled[i] = true;
    };
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (!specs[i].idempotency_key.empty()) settle_by_key(i, false);
    // Hosts that already have an active request are refused, also within this batch.
    std::unordered_map<std::string, request_id> active;
    {
      std::vector<std::string> hosts;
      for (std::size_t i = 0; i < specs.size(); ++i)
        if (!settled[i]) hosts.push_back(specs[i].host);
      for_each_run(hosts.size(), [&](std::size_t offset, std::size_t count) {
        args a;
        for (std::size_t i = offset; i < offset + count; ++i) a.emplace_back(hosts[i]);
        auto r = c.query("SELECT active_host, id FROM requests WHERE active_host IN " +
                             placeholders(count) + pool_->sql().for_update,
                         a);
        while (r->next()) active.emplace(r->text(0), r->i64(1));
      });
    }
    // The active-host read above locks, and so sees requests committed after the key read's
    // snapshot: a simultaneous submission with the same key may have created the very request
    // that keeps the host busy. Read the key again as the lock read sees it, so that the
    // caller gets that request rather than a host_busy naming it.
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (!settled[i] && !specs[i].idempotency_key.empty() && active.count(specs[i].host))
        settle_by_key(i, true);
    // The host rows, locked: a change of a host's site, endpoint or credential (put_hosts)
    // and a request for it serialise on the row, so the change sees the request or the
    // request sees the change. A host that moved site since the caller looked is refused.
    std::unordered_map<std::string, std::pair<std::string, std::string>> host_rows;
    {
      std::vector<std::string> hosts;
      for (std::size_t i = 0; i < specs.size(); ++i)
        if (!settled[i] && !active.count(specs[i].host)) hosts.push_back(specs[i].host);
      for_each_run(hosts.size(), [&](std::size_t offset, std::size_t count) {
        args a(hosts.begin() + static_cast<std::ptrdiff_t>(offset),
               hosts.begin() + static_cast<std::ptrdiff_t>(offset + count));
        auto r = c.query("SELECT name, site, lifecycle_state FROM hosts WHERE name IN " +
                             placeholders(count) + pool_->sql().for_update,
                         a);
        while (r->next()) host_rows[r->text(0)] = {r->text(1), r->text(2)};
      });
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
      auto it = host_rows.find(specs[i].host);
      if (settled[i] || it == host_rows.end()) continue;
      if (it->second.first != specs[i].site)
        return make_error(errc::conflict, "host '" + specs[i].host +
                                              "' moved to another site during the submission; "
                                              "submit again");
      // The lifecycle planned the request for the state the caller saw.
      if (!specs[i].host_state_from.empty() && it->second.second != specs[i].host_state_from)
        return make_error(errc::conflict,
                          "host '" + specs[i].host + "' went from " + specs[i].host_state_from +
                              " to " + it->second.second + " during the submission; submit again");
    }
    auto held = holds_in(c, specs, settled);
    std::vector<std::int64_t> new_ids;
    std::vector<std::size_t> new_index;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (settled[i]) continue;
      const auto& s = specs[i];
      if (auto it = active.find(s.host); it != active.end()) {
        out[i] = {submit_outcome::status::host_busy, it->second};
        continue;
      }
      if (auto it = held.find(s.host); it != held.end()) {
        out[i] = {submit_outcome::status::held, 0, it->second};
        continue;
      }
      if (!s.host_state_during.empty())
        c.execute("UPDATE hosts SET lifecycle_state = ?, updated_at = ? WHERE name = ?",
                  {s.host_state_during, now, s.host});
      c.execute(
          "INSERT INTO requests (action, host, site, priority_class, submitter, idempotency_key, "
          "fingerprint, params, state, active_host, chain_length, created_at, host_state_before, "
          "host_state_on_success, host_state_on_failure, eta_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
          {s.action, s.host, s.site, s.priority_class, s.submitter,
           s.idempotency_key.empty() ? value{nullptr} : value{s.idempotency_key}, s.fingerprint,
           s.params, s.host, static_cast<std::int64_t>(s.chain.size()), now,
           s.host_state_on_withdrawal, s.host_state_on_success, s.host_state_on_failure,
           std::max<time_ms>(0, s.eta_at)});
      out[i] = {submit_outcome::status::created, c.last_insert_id()};
      // Only this transaction created a request with this id, host and time.
      marks.add("SELECT id FROM requests WHERE id = ? AND host = ? AND created_at = ?",
                {out[i].id, s.host, now});
      active.emplace(s.host, out[i].id);
      new_ids.push_back(out[i].id);
      new_index.push_back(i);
    }
    // Every job of every new chain, in multi-row inserts; only the first of a chain is ready.
    struct job_row {
      std::size_t spec;
      request_id req;
      std::size_t pos;
    };
    std::vector<job_row> rows;
    for (std::size_t k = 0; k < new_ids.size(); ++k)
      for (std::size_t p = 0; p < specs[new_index[k]].chain.size(); ++p)
        rows.push_back({new_index[k], new_ids[k], p});
    for_each_run(rows.size(), [&](std::size_t offset, std::size_t count) {
      std::string sql =
          "INSERT INTO jobs (id, request_id, position, type, host, site, action, "
          "priority_class, state, max_attempts, timeout_ms, vdeadline, not_before) VALUES ";
      args a;
      for (std::size_t n = 0; n < count; ++n) {
        const auto& row = rows[offset + n];
        const auto& s = specs[row.spec];
        const auto& j = s.chain[row.pos];
        sql += n ? ", (?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
        a.insert(a.end(), {first_job(row.req) + static_cast<std::int64_t>(row.pos), row.req,
                           static_cast<std::int64_t>(row.pos), j.type, s.host, s.site, s.action,
                           s.priority_class, std::string{row.pos == 0 ? "ready" : "waiting"},
                           std::int64_t{j.max_attempts}, j.timeout_ms,
                           now - policy_.class_credit_ms.at(s.priority_class), now});
      }
      c.execute(sql, a);
    });
    return out;
  });
}

std::vector<claimed_job> sql_store::claim_in(connection& c, commit_marks& marks,
                                             const std::string& owner, const std::string& type,
                                             int max_jobs, time_ms lease_ms,
                                             const action_filter& actions) {
  const auto& by_pk = pool_->sql().by_primary_key;
  auto now = clock_->now();
  std::vector<claimed_job> jobs;
  {
    // The action filter is applied while walking the claim index in queue order: jobs of
    // other clusters' actions are skipped, not sorted.
    // A node's claim names its site: the claim index (type, site, state, vdeadline, id) then
    // yields its site's ready jobs in queue order, and other sites' jobs are never visited.
    std::string sql =
        "SELECT id, request_id, position, host, action, attempts, max_attempts, timeout_ms, "
        "event, deferrals, deferred_since, site, priority_class FROM jobs WHERE type = ?";
    args a{type};
    if (!actions.site.empty()) {
      sql += " AND site = ?";
      a.emplace_back(actions.site);
    }
    sql += " AND state = 'ready' AND not_before <= ?";
    a.emplace_back(now);
    if (!actions.only.empty()) {
      sql += " AND action IN " + placeholders(actions.only.size());
      a.insert(a.end(), actions.only.begin(), actions.only.end());
    }
    if (!actions.except.empty()) {
      sql += " AND action NOT IN " + placeholders(actions.except.size());
      a.insert(a.end(), actions.except.begin(), actions.except.end());
    }
    append_safety(sql, a, actions);
    a.emplace_back(std::int64_t{max_jobs});
    auto r =
        c.query(sql + " ORDER BY vdeadline, id LIMIT ?" + pool_->sql().for_update_skip_locked, a);
    while (r->next()) {
      claimed_job j;
      j.id = r->i64(0);
      j.request = r->i64(1);
      j.position = static_cast<int>(r->i64(2));
      j.type = type;
      j.host = r->text(3);
      j.action = r->text(4);
      j.attempt = static_cast<int>(r->i64(5)) + 1;
      j.max_attempts = static_cast<int>(r->i64(6));
      auto timeout = r->i64(7);
      j.deadline = timeout > 0 ? now + timeout : 0;
      j.event = r->text(8);
      j.deferrals = static_cast<int>(r->i64(9));
      j.deferred_since = r->i64(10);
      j.site = r->text(11);
      j.priority_class = r->text(12);
      jobs.push_back(std::move(j));
    }
  }
  // Destructive and power-affecting work over its pacing limits waits its turn.
  if (!jobs.empty()) jobs = pace(c, std::move(jobs), now);
  if (jobs.empty()) return jobs;
  auto token = new_token();
  // The token is fresh: a job holding it was claimed by this transaction.
  marks.add("SELECT id FROM jobs WHERE id = ? AND lease_token = ?", {jobs.front().id, token});
  std::vector<std::int64_t> ids, starting;
  for (auto& j : jobs) {
    j.lease_token = token;
    ids.push_back(j.id);
    if (j.position == 0 && j.attempt == 1) starting.push_back(j.request);
  }
  execute_in(c,
             "UPDATE jobs SET state = 'running', lease_owner = ?, lease_token = ?, "
             "lease_expires_at = ?, attempts = attempts + 1, started_at = ?, "
             "deadline = CASE WHEN timeout_ms > 0 THEN ? + timeout_ms ELSE 0 END, "
             "due_at = CASE WHEN timeout_ms > 0 AND timeout_ms < ? THEN ? + timeout_ms "
             "ELSE ? END WHERE id IN ",
             ids, {owner, token, now + lease_ms, now, now, lease_ms, now, now + lease_ms});
  if (!starting.empty())
    execute_in(c, "UPDATE requests" + by_pk + " SET state = 'running', started_at = ? WHERE id IN ",
               starting, {now}, " AND state = 'queued'");
  return jobs;
}

caf::expected<std::vector<claimed_job>> sql_store::claim(const std::string& owner,
                                                         const std::string& type, int max_jobs,
                                                         time_ms lease_ms,
                                                         const action_filter& actions) {
  if (max_jobs < 1 || lease_ms < 1)
    return make_error(errc::invalid_argument, "claim needs max_jobs >= 1 and lease_ms >= 1");
  using claimed = caf::expected<std::vector<claimed_job>>;
  return transact("claim", [&](connection& c, commit_marks& marks) -> claimed {
    return claim_in(c, marks, owner, type, max_jobs, lease_ms, actions);
  });
}

caf::expected<cycle_result> sql_store::complete_and_claim(const std::vector<completion>& done,
                                                          const std::string& owner,
                                                          const std::string& type, int max_jobs,
                                                          time_ms lease_ms,
                                                          const action_filter& actions) {
  if (max_jobs < 1 || lease_ms < 1)
    return make_error(errc::invalid_argument, "claim needs max_jobs >= 1 and lease_ms >= 1");
  using cycle = caf::expected<cycle_result>;
  return transact("complete_and_claim", [&](connection& c, commit_marks& marks) -> cycle {
    cycle_result out;
    out.completed = complete_in(c, marks, done);
    out.claimed = claim_in(c, marks, owner, type, max_jobs, lease_ms, actions);
    return out;
  });
}

caf::expected<complete_result> sql_store::complete(const std::vector<completion>& done) {
  using completed = caf::expected<complete_result>;
  return transact("complete", [&](connection& c, commit_marks& marks) -> completed {
    return complete_in(c, marks, done);
  });
}

complete_result sql_store::complete_in(connection& c, commit_marks& marks,
                                       const std::vector<completion>& done) {
  std::vector<std::int64_t> ids, tokens;
  std::unordered_map<job_id, const completion*> wanted;
  for (const auto& d : done)
    if (wanted.emplace(d.job.id, &d).second) {
      ids.push_back(d.job.id);
      tokens.push_back(d.job.token);
    }
  const auto& by_pk = pool_->sql().by_primary_key;
  auto now = clock_->now();
  complete_result out;
  // Mark done what is still held under the caller's lease: the token fences out a worker
  // whose lease expired or whose request was cancelled. Each job names its own token (the
  // jobs of one call come from several claims), in one statement per run of ids.
  std::vector<std::int64_t> held;
  // A done job's lease expiry means nothing any more; it takes a stamp unique to this call,
  // so that when some jobs were lost the ones this call finished can be told apart.
  const auto stamp = -new_token();
  std::uint64_t changed = 0;
  for_each_id_run(ids.size(), [&](std::size_t offset, std::size_t count) {
    const auto shape = shape_of(count);
    std::string sql = "UPDATE jobs" + by_pk +
                      " SET state = 'done', finished_at = ?, error = NULL, lease_expires_at = ? "
                      "WHERE state = 'running' AND id IN " +
                      placeholders(shape) + " AND lease_token = CASE id";
    args a{now, stamp};
    append_ids(a, ids, offset, count);
    for (std::size_t i = 0; i < shape; ++i) {
      sql += " WHEN ? THEN ?";
      auto k = offset + std::min(i, count - 1);
      a.emplace_back(ids[k]);
      a.emplace_back(tokens[k]);
    }
    changed += c.execute(sql + " END", a);
  });
  if (changed == ids.size()) {
    held = ids;
  } else {
    std::unordered_set<job_id> mine;
    for_each_id_run(ids.size(), [&](std::size_t offset, std::size_t count) {
      args a{stamp};
      append_ids(a, ids, offset, count);
      auto r = c.query("SELECT id FROM jobs WHERE lease_expires_at = ? AND id IN " +
                           placeholders(shape_of(count)),
                       a);
      while (r->next()) mine.insert(r->i64(0));
    });
    for (auto id : ids) (mine.count(id) ? held : out.lost).push_back(id);
  }
  if (held.empty()) return out;
  // The stamp is fresh: a job carrying it was finished by this transaction.
  marks.add("SELECT id FROM jobs WHERE id = ? AND lease_expires_at = ?", {held.front(), stamp});
  for (auto id : held)
    if (const auto* d = wanted.at(id); !d->result.empty())
      c.execute("UPDATE jobs SET result = ? WHERE id = ?", {d->result, id});
  // The next job of each chain is id + 1. Past a chain's last job there is no waiting job
  // (a chain's first job is never 'waiting'), so the update skips it.
  std::vector<std::int64_t> next;
  next.reserve(held.size());
  for (auto id : held) next.push_back(id + 1);
  auto readied =
      execute_in(c,
                 "UPDATE jobs" + by_pk +
                     " SET state = 'ready', not_before = ? WHERE state = 'waiting' AND id IN ",
                 next, {now});
  // Every job readied the next one of its chain: none was the last, no request finished.
  if (readied == held.size()) {
    out.completed = held.size();
    return out;
  }
  // A request is finished when the job just done is its last: id * 64 + chain_length - 1.
  std::vector<std::int64_t> requests;
  requests.reserve(held.size());
  for (auto id : held) requests.push_back(id / max_chain_length);
  for_each_id_run(held.size(), [&](std::size_t offset, std::size_t count) {
    const auto in = placeholders(shape_of(count));
    args a{now};
    append_ids(a, requests, offset, count);
    append_ids(a, held, offset, count);
    auto finished =
        c.execute("UPDATE requests" + by_pk +
                      " SET state = 'succeeded', active_host = NULL, finished_at = ? "
                      "WHERE id IN " +
                      in + " AND id * " + std::to_string(max_chain_length) +
                      " + chain_length - 1 IN " + in + " AND state IN ('queued', 'running')",
                  a);
    if (finished == 0) return;
    auto add = [&](job_id job) {
      const auto* d = wanted.at(job);
      out.succeeded.push_back({job / max_chain_length, d->action, d->priority_class});
    };
    if (finished == count) {
      for (std::size_t i = offset; i < offset + count; ++i) add(held[i]);
    } else {
      // Some of them finished their request: which ones (at `now`, by this transaction).
      args f{now};
      append_ids(f, requests, offset, count);
      auto r = c.query(
          "SELECT id FROM requests WHERE finished_at = ? AND state = 'succeeded' "
          "AND id IN " +
              in,
          f);
      std::unordered_set<request_id> done_now;
      while (r->next()) done_now.insert(r->i64(0));
      for (std::size_t i = offset; i < offset + count; ++i)
        if (done_now.count(held[i] / max_chain_length)) add(held[i]);
    }
    // Hosts of the requests that just succeeded take their next lifecycle state.
    args h{now};
    append_ids(h, requests, offset, count);
    h.emplace_back(now);
    append_ids(h, requests, offset, count);
    c.execute(
        "UPDATE hosts SET updated_at = ?, lifecycle_state = (SELECT r.host_state_on_success FROM "
        "requests r WHERE r.host = hosts.name AND r.id IN " +
            in +
            ") WHERE name IN (SELECT r.host FROM requests r WHERE r.state = 'succeeded' AND "
            "r.finished_at = ? AND r.host_state_on_success <> '' AND r.id IN " +
            in + ")",
        h);
  });
  out.completed = held.size();
  return out;
}

void sql_store::fail_chain(connection& c, job_id id, request_id req, const std::string& reason,
                           time_ms now) {
  c.execute(
      "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, park_key = NULL WHERE id = ?",
      {reason, now, id});
  const auto& by_pk = pool_->sql().by_primary_key;
  c.execute("UPDATE jobs" + by_pk +
                " SET state = 'cancelled', finished_at = ?, error = 'an earlier job failed' "
                "WHERE id BETWEEN ? AND ? AND state = 'waiting'",
            {now, first_job(req), last_job(req)});
  c.execute("UPDATE requests" + by_pk +
                " SET state = 'failed', error = ?, active_host = NULL, finished_at = ? "
                "WHERE id = ? AND state IN ('queued', 'running')",
            {reason, now, req});
  settle_host(c, req, true, now);
}

void sql_store::settle_host(connection& c, request_id req, bool started, time_ms now) {
  auto r = c.query(
      "SELECT host, host_state_before, host_state_on_failure FROM requests WHERE id = ?", {req});
  if (!r->next()) return;
  auto host = r->text(0);
  // The column `host_state_before` holds the plan's state on withdrawal.
  auto state = started ? r->text(2) : r->text(1);
  r.reset();
  if (!state.empty())
    c.execute("UPDATE hosts SET lifecycle_state = ?, updated_at = ? WHERE name = ?",
              {state, now, host});
}

std::int64_t sql_store::mark_handed_back(commit_marks& marks, job_id id) {
  // The lease expiry of a job that is no longer running means nothing; a stamp unique to this
  // transaction there tells, after a lost COMMIT answer, that it committed (a repeat would
  // find the job no longer running under the lease and answer lease_lost). Until another
  // claim of the job overwrites it: then the repeat's lease_lost is true.
  const auto stamp = -new_token();
  marks.add("SELECT id FROM jobs WHERE id = ? AND lease_expires_at = ?", {id, stamp});
  return stamp;
}

caf::expected<fail_result> sql_store::fail(const job_lease& job, const std::string& reason,
                                           bool retryable) {
  return transact("fail", [&](connection& c, commit_marks& marks) -> caf::expected<fail_result> {
    auto now = clock_->now();
    auto r = c.query("SELECT lease_token, attempts, max_attempts, type FROM jobs" +
                         pool_->sql().by_primary_key +
                         " WHERE id = ? AND "
                         "state = 'running'" +
                         pool_->sql().for_update,
                     {job.id});
    if (!r->next() || r->i64(0) != job.token)
      return make_error(errc::lease_lost, "job " + std::to_string(job.id) + " is no longer held");
    auto attempts = static_cast<int>(r->i64(1));
    auto max_attempts = static_cast<int>(r->i64(2));
    auto type = r->text(3);
    r.reset();
    fail_result out;
    const auto stamp = mark_handed_back(marks, job.id);
    if (retryable && attempts < max_attempts) {
      out.retrying = true;
      out.not_before = now + backoff(attempts);
      c.execute(
          "UPDATE jobs SET state = 'ready', not_before = ?, lease_expires_at = ?, error = ? "
          "WHERE id = ?",
          {out.not_before, stamp, reason, job.id});
      return out;
    }
    fail_chain(c, job.id, job.id / max_chain_length,
               failure_message(job.id, type, attempts, reason), now);
    c.execute("UPDATE jobs SET lease_expires_at = ? WHERE id = ?", {stamp, job.id});
    return out;
  });
}

caf::error sql_store::defer(const job_lease& job, time_ms not_before, const std::string& reason) {
  auto res =
      transact("defer", [&](connection& c, commit_marks& marks) -> caf::expected<caf::unit_t> {
        auto now = clock_->now();
        const auto stamp = mark_handed_back(marks, job.id);
        auto changed = c.execute(
            "UPDATE jobs" + pool_->sql().by_primary_key +
                " SET state = 'ready', attempts = attempts - 1, lease_expires_at = ?, "
                "not_before = ?, error = ?, deferrals = deferrals + 1, deferred_since = CASE WHEN "
                "deferred_since = 0 THEN ? ELSE deferred_since END "
                "WHERE id = ? AND lease_token = ? AND state = 'running'",
            {stamp, std::max(not_before, now), reason, now, job.id, job.token});
        if (changed == 0)
          return make_error(errc::lease_lost,
                            "job " + std::to_string(job.id) + " is no longer held");
        return caf::unit;
      });
  return res ? caf::error{} : res.error();
}

caf::error sql_store::park(const job_lease& job, const std::string& event_key, time_ms deadline) {
  auto res = park_in(job, event_key, deadline, false);
  return res ? caf::error{} : res.error();
}

caf::expected<std::optional<std::string>> sql_store::park_or_take(const job_lease& job,
                                                                  const std::string& event_key,
                                                                  time_ms deadline) {
  return park_in(job, event_key, deadline, true);
}

caf::expected<std::optional<std::string>> sql_store::park_in(const job_lease& job,
                                                             const std::string& event_key,
                                                             time_ms deadline, bool take) {
  if (event_key.empty()) return make_error(errc::invalid_argument, "park needs an event key");
  return transact(
      "park", [&](connection& c, commit_marks& marks) -> caf::expected<std::optional<std::string>> {
        auto now = clock_->now();
        auto r = c.query("SELECT lease_token FROM jobs" + pool_->sql().by_primary_key +
                             " WHERE id = ? AND state = 'running'" + pool_->sql().for_update,
                         {job.id});
        if (!r->next() || r->i64(0) != job.token)
          return make_error(errc::lease_lost,
                            "job " + std::to_string(job.id) + " is no longer held");
        r.reset();
        // Park and wake of one key serialise on its lock row: without it, under READ COMMITTED,
        // a park that looks for the event before the wake commits and a wake that looks for the
        // parked job before the park commits both miss, and the job sleeps until its deadline.
        lock_event(c, event_key);
        auto taken = c.query("SELECT id FROM jobs WHERE park_key = ?", {event_key});
        if (taken->next())
          return make_error(errc::conflict, "event key '" + event_key +
                                                "' is already awaited by job " +
                                                std::to_string(taken->i64(0)));
        taken.reset();
        // The event may have come before the job parked (a fast installer): take it at once.
        auto early = c.query(
            "SELECT payload FROM pending_events WHERE event_key = ?" + pool_->sql().for_update,
            {event_key});
        if (early->next()) {
          auto payload = early->text(0);
          early.reset();
          c.execute("DELETE FROM pending_events WHERE event_key = ?", {event_key});
          if (take) {
            // Still held, the event on the job: the holder goes on with it, and an attempt
            // after a crash of the holder finds it there.
            c.execute("UPDATE jobs" + pool_->sql().by_primary_key +
                          " SET event = ? WHERE id = ? AND lease_token = ?",
                      {payload, job.id, job.token});
            // The job was claimed without an event (it parks only then): the event on it under
            // this lease tells, after a lost COMMIT answer, that this committed.
            marks.add("SELECT id FROM jobs WHERE id = ? AND lease_token = ? AND event = ?",
                      {job.id, job.token, payload});
            return std::optional<std::string>{std::move(payload)};
          }
          // The attempt that parked goes on with the event: it is given back (see wake_in).
          c.execute(
              "UPDATE jobs SET state = 'ready', attempts = attempts - 1, not_before = ?, "
              "lease_expires_at = ?, event = ?, deadline = 0 WHERE id = ?",
              {now, mark_handed_back(marks, job.id), payload, job.id});
          return std::optional<std::string>{};
        }
        early.reset();
        c.execute(
            "UPDATE jobs SET state = 'parked', park_key = ?, deadline = ?, due_at = ?, "
            "lease_expires_at = ? WHERE id = ?",
            {event_key, deadline, deadline, mark_handed_back(marks, job.id), job.id});
        return std::optional<std::string>{};
      });
}

caf::expected<bool> sql_store::wake(const std::string& event_key, const std::string& payload) {
  return transact(
      "wake", [&](connection& c) -> caf::expected<bool> { return wake_in(c, event_key, payload); });
}

bool sql_store::wake_in(connection& c, const std::string& event_key, const std::string& payload) {
  auto now = clock_->now();
  lock_event(c, event_key);
  // The event continues the attempt that parked, so that attempt is given back: handling the
  // event gets the job's retries (a node that dies while it holds the woken job, before the
  // completion commits, costs one of them), where it would otherwise have had none left.
  auto changed = c.execute(
      "UPDATE jobs SET state = 'ready', attempts = attempts - 1, not_before = ?, event = ?, "
      "park_key = NULL, deadline = 0 WHERE park_key = ? AND state = 'parked'",
      {now, payload, event_key});
  if (changed > 0) return true;
  // Nobody waits yet: keep the event for the job that will park on this key.
  auto r = c.query("SELECT 1 FROM pending_events WHERE event_key = ?" + pool_->sql().for_update,
                   {event_key});
  bool known = r->next();
  r.reset();
  if (!known)
    c.execute("INSERT INTO pending_events (event_key, payload, received_at) VALUES (?, ?, ?)",
              {event_key, payload, now});
  return false;
}

caf::error sql_store::issue_callback(const callback_grant& g) {
  if (g.request <= 0 || g.token_hash.empty() || g.event_key.empty())
    return make_error(errc::invalid_argument,
                      "a callback needs a request, a token digest and an event key");
  // One statement: the grant replaces the request's earlier one, and is stored only if the
  // request exists (MariaDB and SQLite both take REPLACE ... SELECT).
  auto res = transact("issue_callback", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto stored = c.execute(
        "REPLACE INTO callbacks (request_id, token_hash, event_key, expires_at, used_at) "
        "SELECT id, ?, ?, ?, 0 FROM requests WHERE id = ?",
        {g.token_hash, g.event_key, g.expires_at, g.request});
    if (stored == 0) return make_error(errc::not_found, "no request " + std::to_string(g.request));
    return caf::unit;
  });
  return res ? caf::error{} : res.error();
}

caf::error sql_store::redeem_callback(request_id request, const std::string& token_hash,
                                      const std::string& payload) {
  auto res = transact("redeem_callback", [&](connection& c) -> caf::expected<caf::unit_t> {
    auto now = clock_->now();
    auto r = c.query(
        "SELECT token_hash, event_key, expires_at, used_at FROM callbacks "
        "WHERE request_id = ?" +
            pool_->sql().for_update,
        {request});
    // One answer for every refusal: a caller without the token learns nothing.
    auto refused = make_error(errc::unauthenticated,
                              "no valid callback token for request " + std::to_string(request));
    if (!r->next()) return refused;
    auto stored = r->text(0);
    auto event_key = r->text(1);
    auto expires_at = r->i64(2);
    auto used_at = r->i64(3);
    r.reset();
    if (stored != token_hash || used_at != 0 || expires_at <= now) return refused;
    c.execute("UPDATE callbacks SET used_at = ? WHERE request_id = ?", {now, request});
    wake_in(c, event_key, payload);
    return caf::unit;
  });
  return res ? caf::error{} : res.error();
}

caf::expected<std::size_t> sql_store::release(const std::vector<job_lease>& jobs) {
  return transact("release", [&](connection& c) -> caf::expected<std::size_t> {
    auto now = clock_->now();
    std::size_t released = 0;
    for (const auto& j : jobs)
      released +=
          c.execute("UPDATE jobs" + pool_->sql().by_primary_key +
                        " SET state = 'ready', attempts = attempts - 1, lease_expires_at = 0, "
                        "not_before = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                    {now, j.id, j.token});
    return released;
  });
}

caf::expected<std::size_t> sql_store::renew(const std::vector<job_lease>& held, time_ms lease_ms) {
  if (held.empty()) return std::size_t{0};
  std::vector<std::int64_t> ids, tokens;
  std::unordered_set<job_id> seen;
  for (const auto& l : held)
    if (seen.insert(l.id).second) {
      ids.push_back(l.id);
      tokens.push_back(l.token);
    }
  return transact("renew", [&](connection& c) -> caf::expected<std::size_t> {
    auto expiry = clock_->now() + lease_ms;
    // Only the named leases, each under its own token: a job that its holder handed back (or
    // failed to hand back), that recovery retried or that was claimed again since is fenced
    // out, so a lease nobody works on runs out and recovery retries the job. By primary key:
    // an UPDATE that found the rows through the index on state would lock every running job
    // of the site and wait behind, and deadlock with, other nodes' claims and completions.
    std::uint64_t changed = 0;
    for_each_id_run(ids.size(), [&](std::size_t offset, std::size_t count) {
      const auto shape = shape_of(count);
      std::string sql = "UPDATE jobs" + pool_->sql().by_primary_key +
                        " SET lease_expires_at = ?, due_at = CASE WHEN deadline > 0 AND "
                        "deadline < ? THEN deadline ELSE ? END WHERE state = 'running' AND id IN " +
                        placeholders(shape) + " AND lease_token = CASE id";
      args a{expiry, expiry, expiry};
      append_ids(a, ids, offset, count);
      for (std::size_t i = 0; i < shape; ++i) {
        sql += " WHEN ? THEN ?";
        auto k = offset + std::min(i, count - 1);
        a.emplace_back(ids[k]);
        a.emplace_back(tokens[k]);
      }
      changed += c.execute(sql + " END", a);
    });
    return static_cast<std::size_t>(changed);
  });
}

caf::expected<std::size_t> sql_store::release_held(const std::string& owner) {
  return transact("release_held", [&](connection& c) -> caf::expected<std::size_t> {
    return c.execute(
        "UPDATE jobs SET state = 'ready', attempts = attempts - 1, lease_expires_at = 0, "
        "not_before = ? WHERE state = 'running' AND lease_owner = ?",
        {clock_->now(), owner});
  });
}

caf::expected<std::size_t> sql_store::expire_held(const std::string& owner) {
  return transact("expire_held", [&](connection& c) -> caf::expected<std::size_t> {
    return c.execute(
        "UPDATE jobs SET lease_expires_at = 0, due_at = 0 WHERE state = 'running' "
        "AND lease_owner = ?",
        {owner});
  });
}

caf::expected<recover_result> sql_store::recover(std::size_t limit) {
  return transact("recover", [&](connection& c) -> caf::expected<recover_result> {
    auto now = clock_->now();
    struct stray {
      job_id id;
      int attempts, max_attempts;
      std::string type, why, action, priority_class;
    };
    std::vector<stray> found;
    auto collect = [&](const std::string& where) {
      if (found.size() >= limit) return;
      auto r = c.query(
          "SELECT id, attempts, max_attempts, type, lease_owner, state, lease_expires_at, action, "
          "priority_class FROM jobs WHERE " +
              where + " LIMIT ?" + pool_->sql().for_update_skip_locked,
          {now, static_cast<std::int64_t>(limit - found.size())});
      while (r->next()) {
        std::string why = r->text(5) == "parked" ? "deadline passed while waiting for an event"
                          : r->i64(6) < now      ? "lease expired, its node stopped renewing"
                                                 : "deadline passed while running";
        if (!r->is_null(4)) why += " (last held by " + r->text(4) + ")";
        found.push_back({r->i64(0), static_cast<int>(r->i64(1)), static_cast<int>(r->i64(2)),
                         r->text(3), why, r->text(7), r->text(8)});
      }
    };
    collect("state = 'running' AND due_at < ?");
    collect("state = 'parked' AND due_at BETWEEN 1 AND ?");
    recover_result out;
    for (const auto& s : found) {
      if (s.attempts < s.max_attempts) {
        c.execute(
            "UPDATE jobs SET state = 'ready', not_before = ?, lease_expires_at = 0, "
            "deadline = 0, park_key = NULL, error = ? WHERE id = ?",
            {now + backoff(s.attempts), s.why, s.id});
        ++out.retried;
      } else {
        fail_chain(c, s.id, s.id / max_chain_length,
                   failure_message(s.id, s.type, s.attempts, s.why), now);
        ++out.failed;
        out.failed_requests.push_back({s.id / max_chain_length, s.action, s.priority_class});
      }
    }
    return out;
  });
}

caf::expected<request_state> sql_store::cancel(request_id id, const std::string& reason) {
  return transact("cancel", [&](connection& c) -> caf::expected<request_state> {
    auto now = clock_->now();
    auto r = c.query("SELECT state FROM requests WHERE id = ?" + pool_->sql().for_update, {id});
    if (!r->next())
      return make_error(errc::not_found, "request " + std::to_string(id) + " does not exist");
    auto state = parse_request_state(r->text(0)).value_or(request_state::failed);
    r.reset();
    if (is_terminal(state))
      return make_error(errc::conflict, "request " + std::to_string(id) + " has already " +
                                            std::string{to_string(state)});
    auto why = "cancelled: " + reason;
    c.execute("UPDATE jobs" + pool_->sql().by_primary_key +
                  " SET state = 'cancelled', finished_at = ?, error = ?, park_key = NULL "
                  "WHERE id BETWEEN ? AND ? AND state IN ('waiting', 'ready', 'running', 'parked')",
              {now, why, first_job(id), last_job(id)});
    c.execute(
        "UPDATE requests SET state = 'cancelled', error = ?, active_host = NULL, "
        "finished_at = ? WHERE id = ?",
        {why, now, id});
    settle_host(c, id, state != request_state::queued, now);
    return request_state::cancelled;
  });
}

}  // namespace ab::storage::detail
