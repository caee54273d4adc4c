#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>

#include <spdlog/spdlog.h>
#include <caf/expected.hpp>
#include <caf/unit.hpp>

#include "storage/detail/sql.hpp"
#include "storage/detail/test_hooks.hpp"
#include "storage/store.hpp"

namespace ab::storage::detail {

/// What a transaction wrote that only it could have written (a fresh lease token, a request it
/// created), as a query that finds it: run after a COMMIT whose answer was lost with the
/// connection, it tells whether that COMMIT happened, so that the transaction is neither lost
/// nor applied twice.
class commit_marks {
 public:
  /// The transaction committed if `sql` with `args` returns a row; the first mark counts (a
  /// transaction commits whole or not at all).
  void add(std::string sql, std::vector<value> args) {
    if (!sql_.empty()) return;
    sql_ = std::move(sql);
    args_ = std::move(args);
  }
  bool empty() const { return sql_.empty(); }
  void clear() {
    sql_.clear();
    args_.clear();
  }
  /// Whether the marked write is in the database, as `c` sees it after `connection::sync`.
  bool found(connection& c) const {
    c.sync();
    return c.query(sql_, args_)->next();
  }

 private:
  std::string sql_;
  std::vector<value> args_;
};

/// One process's claim to a node id: its row in `node_claims` while `token` is there.
struct node_claim_row {
  std::string node_id;
  std::string incarnation;
  /// Host, boot, pid and start time of the claiming process (sql_incarnation.cpp).
  std::string process;
  /// Random, unique to this claim.
  std::int64_t token = 0;
  /// Each renewal extends the claim to the database's now + this.
  time_ms ttl_ms = 0;
};

/// What `sql_store::transact(what, fn)` returns: `fn`'s result, with or without marks.
template <class F>
using transaction_result_t =
    typename std::conditional_t<std::is_invocable_v<F, connection&, commit_marks&>,
                                std::invoke_result<F, connection&, commit_marks&>,
                                std::invoke_result<F, connection&>>::type;

/// The store logic shared by both backends, written once against `connection_pool`. The
/// backends differ only in their driver adapter and `dialect`.
class sql_store final : public store, public test_hooks {
 public:
  sql_store(std::unique_ptr<connection_pool> pool, std::shared_ptr<const ab::clock> clk,
            queue_policy policy);

  /// Brings the schema up to date, up to `schema_max` (0: every migration; `migrate`); call
  /// once before anything else.
  caf::error open(int schema_max = 0);

  std::string backend() const override { return pool_->sql().name; }
  int schema_version() override { return schema_version_; }
  caf::error ping() override;
  caf::error bind_site(std::int64_t site_id) override;

  caf::expected<std::vector<submit_outcome>> submit(
      const std::vector<request_spec>& specs) override;
  using store::claim;
  using store::complete_and_claim;
  caf::expected<std::vector<claimed_job>> claim(const std::string& owner, const std::string& type,
                                                int max_jobs, time_ms lease_ms,
                                                const action_filter& actions) override;
  caf::expected<complete_result> complete(const std::vector<completion>& done) override;
  caf::expected<cycle_result> complete_and_claim(const std::vector<completion>& done,
                                                 const std::string& owner, const std::string& type,
                                                 int max_jobs, time_ms lease_ms,
                                                 const action_filter& actions) override;
  caf::expected<fail_result> fail(const job_lease& job, const std::string& reason,
                                  bool retryable) override;
  caf::error defer(const job_lease& job, time_ms not_before, const std::string& reason) override;
  caf::error park(const job_lease& job, const std::string& event_key, time_ms deadline) override;
  caf::expected<std::optional<std::string>> park_or_take(const job_lease& job,
                                                         const std::string& event_key,
                                                         time_ms deadline) override;
  caf::expected<bool> wake(const std::string& event_key, const std::string& payload) override;
  caf::error issue_callback(const callback_grant& grant) override;
  caf::error redeem_callback(request_id request, const std::string& token_hash,
                             const std::string& payload) override;
  caf::expected<std::size_t> release(const std::vector<job_lease>& jobs) override;
  caf::expected<std::size_t> renew(const std::vector<job_lease>& held, time_ms lease_ms) override;
  caf::expected<std::size_t> release_held(const std::string& owner) override;
  caf::expected<std::size_t> expire_held(const std::string& owner) override;
  caf::expected<std::unique_ptr<node_claim>> claim_node(const std::string& node_id,
                                                        const std::string& incarnation,
                                                        time_ms ttl_ms) override;
  /// Extends `row`'s claim (or takes it again if it is free); false when another process
  /// holds the id now (sql_incarnation.cpp).
  caf::expected<bool> renew_node_claim(const node_claim_row& row);
  /// Frees `row`'s claim if it still holds; never fails (an unreachable claim expires).
  void free_node_claim(const node_claim_row& row) noexcept;
  caf::expected<std::size_t> expire_predecessors(const std::string& node_id,
                                                 const std::string& incarnation) override;
  caf::expected<time_ms> database_time() override;
  caf::expected<recover_result> recover(std::size_t limit) override;
  caf::expected<request_state> cancel(request_id id, const std::string& reason) override;
  caf::expected<request_view> request(request_id id) override;
  caf::expected<std::vector<request_view>> requests_by_id(
      const std::vector<request_id>& ids) override;
  caf::expected<request_page> requests(const request_filter& filter) override;
  caf::expected<std::vector<queue_depth_row>> queue_depth() override;

  caf::error put_hosts(const std::vector<host_record>& hosts) override;
  caf::expected<host_record> host(const std::string& name) override;
  caf::expected<std::vector<host_record>> hosts(const host_filter& filter) override;
  caf::error set_host_state(const std::string& name, const std::string& from,
                            const std::string& to) override;
  caf::error set_host_facts(const std::string& name, const std::string& facts) override;
  caf::error delete_host(const std::string& name) override;

  caf::error heartbeat(const node_record& node) override;
  caf::expected<std::vector<node_record>> nodes() override;
  caf::expected<std::vector<host_record>> find_hosts(
      const std::vector<std::string>& names) override;
  caf::expected<std::int64_t> audit(const audit_entry& entry) override;
  caf::error audit(const std::vector<audit_entry>& entries) override;
  caf::expected<std::vector<audit_entry>> audit_log(const audit_filter& filter) override;
  caf::expected<prune_result> prune(const retention& keep, std::size_t limit) override;
  caf::expected<std::int64_t> cluster_map_version() override;
  caf::expected<cluster_map_document> read_cluster_map() override;
  caf::expected<cluster_map_document> change_cluster_map(const cluster_map_change& change) override;
  caf::expected<quota_result> charge_quota(const quota_charge& charge) override;
  caf::error settle_quota(std::int64_t id, std::int64_t hosts) override;
  caf::expected<std::int64_t> quota_used(const std::string& subject) override;
  caf::expected<wave_id> create_wave(const wave_record& w) override;
  caf::expected<wave_record> wave(wave_id id) override;
  caf::expected<std::vector<wave_record>> waves(const wave_filter& filter) override;
  caf::expected<bool> update_wave(const wave_record& w,
                                  const std::vector<wave_host>& hosts) override;
  caf::expected<bool> stop_wave(wave_id id, const std::string& reason) override;
  caf::expected<bool> take_wave_lease(const std::string& owner, time_ms lease_ms) override;

  caf::expected<std::vector<hold>> holds_of(const std::vector<std::string>& hosts) override;
  caf::expected<std::vector<hold>> holds(const hold_filter& filter) override;
  caf::expected<hold> place_hold(const hold& h, const std::string& source) override;
  caf::expected<hold> lift_hold(const std::string& host, const safety_actor& by) override;
  caf::expected<std::vector<pause>> active_pauses() override;
  caf::expected<pause> place_pause(const pause& p, const std::string& source) override;
  caf::expected<pause> resume(const std::string& scope, const std::string& target,
                              const safety_actor& by) override;
  caf::expected<std::vector<finished_sample>> finished_requests(const std::string& site,
                                                                time_ms after,
                                                                std::size_t limit) override;
  caf::expected<queue_overview> overview(const std::string& site, time_ms stuck_before,
                                         const std::vector<std::string>& types,
                                         time_ms done_since) override;
  caf::expected<std::int64_t> queued_ahead(const std::string& site, const std::string& action,
                                           time_ms vdeadline, request_id id) override;

  /// Runs `fn(connection&)` (or `fn(connection&, commit_marks&)`) as one transaction, rolling
  /// back when it returns an error, and running it again, whole, after a deadlock or a
  /// certification failure, a lock timeout, a lost connection or a database that is not ready
  /// (`with_retries`). When the connection is lost during COMMIT, the marks that `fn` left
  /// tell whether it committed: if it did, its result is returned instead of running it again.
  template <class F>
  auto transact(const char* what, F&& fn) -> transaction_result_t<F>;

  /// Runs `fn(connection&)` with every statement a transaction of its own: for a read that is
  /// one statement, consistent by itself, which then costs one round trip (no BEGIN, no
  /// COMMIT) and, on SQLite, no write lock. Retried like `transact`.
  template <class F>
  auto read_alone(const char* what, F&& fn) -> std::invoke_result_t<F, connection&>;

  /// Runs `attempt()` until it returns, while what it throws is worth another try (anything
  /// but `db_error::kind::other`), for up to `retry_budget_ms` with a capped exponential
  /// backoff between tries; logs the outage and the recovery once per outage. An `attempt`
  /// runs a whole transaction: nothing of a failed one stays.
  template <class F>
  auto with_retries(const char* what, F&& attempt) -> std::invoke_result_t<F>;

  /// How long a store call keeps retrying before it answers `store_unavailable`: long enough
  /// for a server restart or a Galera failover (failure detection, HAProxy's checks).
  static constexpr time_ms retry_budget_ms = 20000;

 private:
  std::vector<claimed_job> claim_in(connection& c, commit_marks& marks, const std::string& owner,
                                    const std::string& type, int max_jobs, time_ms lease_ms,
                                    const action_filter& actions);
  complete_result complete_in(connection& c, commit_marks& marks,
                              const std::vector<completion>& done);
  /// The claimed `jobs` that the pacing limits let start now (sql_safety.cpp); the others are
  /// deferred by `pacing.recheck_ms` with the limit they wait for as their error.
  std::vector<claimed_job> pace(connection& c, std::vector<claimed_job> jobs, time_ms now);
  /// Locks the row that park and wake of `event_key` serialise on, until the transaction ends.
  void lock_event(connection& c, const std::string& event_key);
  /// Wakes the job parked on `event_key`, or keeps the event for it; true if a job woke.
  bool wake_in(connection& c, const std::string& event_key, const std::string& payload);
  /// `park` (take: false) and `park_or_take` (take: true) in one transaction.
  caf::expected<std::optional<std::string>> park_in(const job_lease& job,
                                                    const std::string& event_key, time_ms deadline,
                                                    bool take);
  /// After a request failed (`started`) or was cancelled: its host takes the failure state, or
  /// back the state it had when the request never started.
  void settle_host(connection& c, request_id req, bool started, time_ms now);
  /// Fails a job for good, cancels the rest of its chain and fails its request.
  void fail_chain(connection& c, job_id id, request_id req, const std::string& reason, time_ms now);
  /// Delay before attempt `attempts + 1`: exponential, capped, with jitter.
  time_ms backoff(int attempts);
  std::int64_t new_token();
  /// The database's clock in `c`'s transaction (SQLite, which is local: the store's clock).
  time_ms database_now(connection& c);
  /// Takes `row`'s node id if it is free, expired, already this claim's, or held by a process
  /// of this host that is gone. When another live process holds it: `conflict` naming it if
  /// `refuse_loudly`, else false.
  caf::expected<bool> take_node_claim(connection& c, const node_claim_row& row, bool refuse_loudly);
  /// A fresh stamp for the `lease_expires_at` of job `id`, which this transaction hands back
  /// (fail, defer, park), and the commit mark that finds it.
  std::int64_t mark_handed_back(commit_marks& marks, job_id id);
  /// Logs a failed attempt of `what` (the first of an outage as a warning) before the retry.
  void note_retry(const char* what, int attempt, const db_error& e);
  /// After a call succeeded: logs the end of the outage, if there was one.
  void note_success(const char* what, int attempts);
  /// Logs and maps the failure of the last attempt.
  caf::error note_give_up(const char* what, int attempts, const db_error& e);
  /// Runs `marks`' check on `c` after a COMMIT of `what` that lost its answer.
  bool committed_before(const char* what, connection& c, const commit_marks& marks);

  std::unique_ptr<connection_pool> pool_;
  std::shared_ptr<const ab::clock> clock_;
  queue_policy policy_;
  std::shared_ptr<spdlog::logger> log_;
  int schema_version_ = 0;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
  /// When the current outage (a lost connection that calls retry) began, steady-clock ms; 0
  /// when the database answers.
  std::atomic<std::int64_t> outage_since_ms_{0};
};

/// Splits `n` items into runs of 64, 32, …, 1 so that a batch statement has one of few shapes
/// (prepared statements are cached by their text); calls `fn(offset, count)` for each run.
template <class F>
void for_each_run(std::size_t n, F&& fn) {
  std::size_t offset = 0;
  for (std::size_t size = 64; size > 0; size /= 2)
    while (n - offset >= size) {
      fn(offset, size);
      offset += size;
    }
}

/// Maps a driver failure to the project error that the caller sees.
caf::error to_error(const db_error& e, const char* what);

template <class F>
auto sql_store::with_retries(const char* what, F&& attempt) -> std::invoke_result_t<F> {
  const auto start = std::chrono::steady_clock::now();
  for (int n = 1;; ++n) {
    try {
      auto result = attempt();
      note_success(what, n);
      return result;
    } catch (const db_error& e) {
      auto spent = std::chrono::steady_clock::now() - start;
      if (e.what_kind() == db_error::kind::other ||
          spent >= std::chrono::milliseconds(retry_budget_ms))
        return note_give_up(what, n, e);
      note_retry(what, n, e);
      // 50 ms doubling to 1 s: quick after a deadlock, patient through a failover.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(25 << std::min(n, 6), 1000)));
    }
  }
}

template <class F>
auto sql_store::transact(const char* what, F&& fn) -> transaction_result_t<F> {
  using result_type = transaction_result_t<F>;
  commit_marks marks;
  // The result of an attempt whose COMMIT lost its answer, until the marks tell.
  std::optional<result_type> unknown;
  return with_retries(what, [&]() -> result_type {
    auto c = pool_->acquire();
    try {
      if (unknown) {
        c->begin();
        bool done = committed_before(what, *c, marks);
        c->rollback();
        if (done) return std::move(*unknown);
        unknown.reset();
      }
      marks.clear();
      c->begin();
      auto result = [&] {
        if constexpr (std::is_invocable_v<F, connection&, commit_marks&>)
          return fn(*c, marks);
        else
          return fn(*c);
      }();
      if (!result) {
        c->rollback();
        return result;
      }
      try {
        c->commit();
      } catch (const db_error& e) {
        // The server may have committed before the connection broke: find out before running
        // the transaction again (a claim run twice would strand the first one's jobs).
        if (e.what_kind() == db_error::kind::connection && !marks.empty())
          unknown.emplace(std::move(result));
        throw;
      }
      return result;
    } catch (const db_error& e) {
      c->rollback();
      if (e.what_kind() == db_error::kind::connection) c.mark_broken();
      throw;
    }
  });
}

template <class F>
auto sql_store::read_alone(const char* what, F&& fn) -> std::invoke_result_t<F, connection&> {
  return with_retries(what, [&]() -> std::invoke_result_t<F, connection&> {
    auto c = pool_->acquire_for_reads();
    try {
      c->autocommit();
      return fn(*c);
    } catch (const db_error& e) {
      if (e.what_kind() == db_error::kind::connection) c.mark_broken();
      throw;
    }
  });
}

}  // namespace ab::storage::detail
