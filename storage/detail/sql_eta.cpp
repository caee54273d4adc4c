// What the turnaround estimates and the queue gauges read: recent finishes, the site's queue
// (ready jobs, recent throughput, active and stuck requests), a request's place in the claim
// order. Reads only, each one statement.

#include <algorithm>
#include <tuple>

#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

using args = std::vector<value>;

}  // namespace

caf::expected<std::vector<finished_sample>> sql_store::finished_requests(const std::string& site,
                                                                         time_ms after,
                                                                         std::size_t limit) {
  // The last job of a chain is id * 64 + chain_length - 1; its lease owner names the node
  // whose worker finished it. Active requests have finished_at 0, below any `after`.
  static const std::string sql =
      "SELECT r.id, r.action, r.priority_class, r.state, r.created_at, r.started_at, "
      "r.finished_at, r.eta_at, j.lease_owner FROM requests r LEFT JOIN jobs j ON j.id = r.id * " +
      std::to_string(max_chain_length) +
      " + r.chain_length - 1 WHERE r.finished_at > ? AND r.site = ? ORDER BY r.finished_at, r.id "
      "LIMIT ?";
  auto capped = static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 1, 10000));
  return read_alone("finished_requests",
                    [&](connection& c) -> caf::expected<std::vector<finished_sample>> {
                      std::vector<finished_sample> out;
                      auto r = c.query(sql, {std::max<time_ms>(after, 0), site, capped});
                      while (r->next()) {
                        finished_sample f;
                        f.id = r->i64(0);
                        f.action = r->text(1);
                        f.priority_class = r->text(2);
                        f.state = parse_request_state(r->text(3)).value_or(request_state::failed);
                        f.created_at = r->i64(4);
                        f.started_at = r->i64(5);
                        f.finished_at = r->i64(6);
                        f.eta_at = r->i64(7);
                        if (!r->is_null(8)) f.last_owner = r->text(8);
                        out.push_back(std::move(f));
                      }
                      return out;
                    });
}

caf::expected<queue_overview> sql_store::overview(const std::string& site, time_ms stuck_before,
                                                  const std::vector<std::string>& types,
                                                  time_ms done_since) {
  // One statement, so one snapshot and one round trip: the ready jobs of every type (index
  // jobs_due, state first), the done ones of `types` (one range of jobs_finished per type),
  // and the active requests (two ranges of requests_queue). A request's jobs are ids
  // request * 64 to request * 64 + 63: a running request with none started or finished since
  // the cut-off made no progress.
  const auto chain = std::to_string(max_chain_length);
  std::string sql =
      "SELECT 'r', type, priority_class, action, COUNT(*), MIN(not_before), 0 FROM jobs WHERE "
      "site = ? AND state = 'ready' GROUP BY type, priority_class, action";
  args a{site};
  if (!types.empty()) {
    sql +=
        " UNION ALL SELECT 'd', type, priority_class, action, 0, finished_at - finished_at % "
        "1000, COUNT(*) FROM jobs WHERE type IN " +
        placeholders(types.size()) +
        " AND site = ? AND finished_at >= ? AND state = 'done' GROUP BY type, priority_class, "
        "action, finished_at - finished_at % 1000";
    a.insert(a.end(), types.begin(), types.end());
    a.emplace_back(site);
    a.emplace_back(std::max<time_ms>(done_since, 1));
  }
  sql +=
      " UNION ALL SELECT 'a', state, priority_class, action, COUNT(*), SUM(CASE WHEN state = "
      "'running' AND created_at < ? AND started_at < ? AND NOT EXISTS (SELECT 1 FROM jobs j "
      "WHERE j.id BETWEEN requests.id * " +
      chain + " AND requests.id * " + chain + " + " + chain +
      " - 1 AND (j.started_at >= ? OR j.finished_at >= ?)) THEN 1 ELSE 0 END), 0 FROM "
      "requests WHERE state IN ('queued', 'running') AND site = ? GROUP BY state, "
      "priority_class, action";
  a.insert(a.end(), {stuck_before, stuck_before, stuck_before, stuck_before, site});
  return read_alone("overview", [&](connection& c) -> caf::expected<queue_overview> {
    queue_overview out;
    auto r = c.query(sql, a);
    while (r->next()) {
      auto kind = r->text(0);
      if (kind == "a") {
        out.active.push_back({r->text(3), r->text(2),
                              parse_request_state(r->text(1)).value_or(request_state::queued),
                              r->i64(4), r->i64(5)});
        continue;
      }
      auto type = r->text(1), cls = r->text(2), action = r->text(3);
      auto it = std::find_if(out.ready.begin(), out.ready.end(), [&](const ready_jobs_row& x) {
        return x.type == type && x.priority_class == cls && x.action == action;
      });
      if (it == out.ready.end()) {
        out.ready.push_back({type, cls, action, 0, 0, 0});
        it = out.ready.end() - 1;
      }
      if (kind == "r") {
        it->count = r->i64(4);
        it->oldest_since = r->i64(5);
      } else {
        it->done += r->i64(6);
        out.done_seconds.push_back({type, cls, action, r->i64(5), r->i64(6)});
      }
    }
    auto key = [](const ready_jobs_row& x) { return std::tie(x.type, x.priority_class, x.action); };
    std::sort(out.ready.begin(), out.ready.end(),
              [&](const ready_jobs_row& x, const ready_jobs_row& y) { return key(x) < key(y); });
    return out;
  });
}

caf::expected<std::int64_t> sql_store::queued_ahead(const std::string& site,
                                                    const std::string& action, time_ms vdeadline,
                                                    request_id id) {
  // A queued request of class C goes first when created_at - credit(C) < vdeadline, or equal
  // with a smaller id (the claim's ORDER BY vdeadline, id): one range of the index per class.
  std::string sql =
      "SELECT COUNT(*) FROM requests WHERE state = 'queued' AND site = ? AND action = ? AND (";
  args a{site, action};
  bool first = true;
  for (const auto& [cls, credit] : policy_.class_credit_ms) {
    auto bound = vdeadline + credit;
    sql += first ? "" : " OR ";
    sql += "(priority_class = ? AND (created_at < ? OR (created_at = ? AND id < ?)))";
    a.insert(a.end(), {cls, bound, bound, id});
    first = false;
  }
  if (first) return std::int64_t{0};
  sql += ")";
  return read_alone("queued_ahead", [&](connection& c) -> caf::expected<std::int64_t> {
    auto r = c.query(sql, a);
    return r->next() ? r->i64(0) : std::int64_t{0};
  });
}

}  // namespace ab::storage::detail
