#pragma once

// A connection pool that wraps a real one and injects the failures of a database failover at
// COMMIT or at the next statement: a COMMIT whose answer is lost (after or instead of
// committing), a certification failure, a node that is not ready.

#include <atomic>
#include <memory>
#include <string>

#include "storage/detail/sql.hpp"

namespace ab::testing {

/// What goes wrong next; each fault strikes once.
struct fault_plan {
  /// The next COMMIT commits, then the connection "breaks" before its answer arrives.
  std::atomic<bool> lose_answer_after_commit{false};
  /// The next COMMIT never reaches the server: it rolls back, and the connection breaks.
  std::atomic<bool> break_before_commit{false};
  /// The next COMMIT fails as Galera's certification failure does (error 1213).
  std::atomic<bool> fail_certification{false};
  /// The next statement fails as on a Galera node that is not ready (error 1047).
  std::atomic<bool> not_ready{false};
  /// COMMITs that reached the server.
  std::atomic<int> commits{0};
};

namespace detail_faults {

using storage::detail::connection;
using storage::detail::db_error;
using storage::detail::rows;
using storage::detail::value;

class faulty_connection final : public connection {
 public:
  faulty_connection(connection& real, fault_plan& plan) : real_(real), plan_(plan) {}
  void begin() override { real_.begin(); }
  void autocommit() override { real_.autocommit(); }
  void commit() override {
    if (plan_.break_before_commit.exchange(false)) {
      real_.rollback();
      throw db_error(db_error::kind::connection, 2013,
                     "Lost connection to server during query (injected before COMMIT)");
    }
    if (plan_.fail_certification.exchange(false)) {
      real_.rollback();
      throw db_error(db_error::kind::transient, 1213,
                     "WSREP detected deadlock/conflict and aborted the transaction (injected)");
    }
    real_.commit();
    ++plan_.commits;
    if (plan_.lose_answer_after_commit.exchange(false))
      throw db_error(db_error::kind::connection, 2013,
                     "Lost connection to server during query (injected after COMMIT)");
  }
  void rollback() noexcept override { real_.rollback(); }
  std::uint64_t execute(const std::string& sql, const std::vector<value>& args) override {
    strike();
    return real_.execute(sql, args);
  }
  std::unique_ptr<rows> query(const std::string& sql, const std::vector<value>& args) override {
    strike();
    return real_.query(sql, args);
  }
  void exec_raw(const std::string& sql) override {
    strike();
    real_.exec_raw(sql);
  }
  std::int64_t last_insert_id() override { return real_.last_insert_id(); }
  void sync() override { real_.sync(); }

 private:
  void strike() {
    if (plan_.not_ready.exchange(false)) {
      real_.rollback();
      throw db_error(db_error::kind::connection, 1047,
                     "WSREP has not yet prepared node for application use (injected)");
    }
  }
  connection& real_;
  fault_plan& plan_;
};

}  // namespace detail_faults

/// Lends the connections of `inner` through `plan`'s faults.
class faulty_pool final : public storage::detail::connection_pool {
 public:
  faulty_pool(std::unique_ptr<storage::detail::connection_pool> inner, fault_plan& plan)
      : inner_(std::move(inner)), plan_(plan) {}

  storage::detail::pooled acquire() override { return wrap(inner_->acquire()); }
  storage::detail::pooled acquire_for_reads() override { return wrap(inner_->acquire_for_reads()); }
  void lock_migrations(storage::detail::connection& c) override { inner_->lock_migrations(c); }
  void extend_migrations_lock(storage::detail::connection& c) override {
    inner_->extend_migrations_lock(c);
  }
  void unlock_migrations(storage::detail::connection& c) noexcept override {
    inner_->unlock_migrations(c);
  }
  const storage::detail::dialect& sql() const override { return inner_->sql(); }
  std::string now_ms_sql() const override { return inner_->now_ms_sql(); }

 private:
  storage::detail::pooled wrap(storage::detail::pooled real) {
    auto held = std::make_shared<storage::detail::pooled>(std::move(real));
    return storage::detail::pooled{new detail_faults::faulty_connection(**held, plan_),
                                   [held](storage::detail::connection* c, bool broken) {
                                     delete c;
                                     if (broken) held->mark_broken();
                                   }};
  }

  std::unique_ptr<storage::detail::connection_pool> inner_;
  fault_plan& plan_;
};

}  // namespace ab::testing
