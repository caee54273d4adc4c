// What the turnaround estimates read: recent finishes, active requests, a request's place in
// the claim order, the ready jobs of each type. Reads only, each one statement.

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

caf::expected<std::vector<active_sample>> sql_store::active_requests(const std::string& site) {
  // Served by requests_queue (state, site, action, priority_class, created_at): two ranges.
  static const std::string sql =
      "SELECT state, action, priority_class, COUNT(*) FROM requests WHERE state IN "
      "('queued', 'running') AND site = ? GROUP BY state, action, priority_class";
  return read_alone("active_requests",
                    [&](connection& c) -> caf::expected<std::vector<active_sample>> {
                      std::vector<active_sample> out;
                      auto r = c.query(sql, {site});
                      while (r->next()) {
                        active_sample row;
                        row.state = parse_request_state(r->text(0)).value_or(request_state::queued);
                        row.action = r->text(1);
                        row.priority_class = r->text(2);
                        row.count = r->i64(3);
                        out.push_back(std::move(row));
                      }
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

caf::expected<std::vector<job_queue_row>> sql_store::ready_jobs(
    const std::string& site, const std::vector<std::string>& types, time_ms done_since) {
  if (types.empty()) return std::vector<job_queue_row>{};
  // One range of jobs_claim_site per type for the ready jobs, one of jobs_finished per type
  // for the done ones; both in one statement, so one snapshot and one round trip.
  auto in = placeholders(types.size());
  std::string sql =
      "SELECT type, action, priority_class, COUNT(*), MIN(not_before), 0 FROM jobs WHERE type IN " +
      in +
      " AND site = ? AND state = 'ready' GROUP BY type, action, priority_class UNION ALL "
      "SELECT type, action, priority_class, 0, 0, COUNT(*) FROM jobs WHERE type IN " +
      in +
      " AND site = ? AND finished_at >= ? AND state = 'done' GROUP BY type, action, "
      "priority_class";
  args a(types.begin(), types.end());
  a.emplace_back(site);
  a.insert(a.end(), types.begin(), types.end());
  a.emplace_back(site);
  a.emplace_back(std::max<time_ms>(done_since, 1));
  return read_alone("ready_jobs", [&](connection& c) -> caf::expected<std::vector<job_queue_row>> {
    std::vector<job_queue_row> out;
    auto r = c.query(sql, a);
    while (r->next()) {
      auto type = r->text(0), action = r->text(1), cls = r->text(2);
      auto it = std::find_if(out.begin(), out.end(), [&](const job_queue_row& x) {
        return x.type == type && x.action == action && x.priority_class == cls;
      });
      if (it == out.end()) {
        out.push_back({type, action, cls, 0, 0, 0});
        it = out.end() - 1;
      }
      it->ready += r->i64(3);
      if (r->i64(3) > 0) it->oldest_ready = r->i64(4);
      it->done += r->i64(5);
    }
    std::sort(out.begin(), out.end(), [](const job_queue_row& x, const job_queue_row& y) {
      return std::tie(x.type, x.action, x.priority_class) <
             std::tie(y.type, y.action, y.priority_class);
    });
    return out;
  });
}

}  // namespace ab::storage::detail
