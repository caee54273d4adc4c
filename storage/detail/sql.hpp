#pragma once

// The small SQL driver surface that the shared store logic is written against; the MySQL and
// SQLite adapters implement it. Drivers throw `db_error`; the store turns it into caf::error.

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ab::storage::detail {

/// A driver failure, classified by what the caller should do about it.
class db_error : public std::runtime_error {
 public:
  enum class kind {
    /// Deadlock (on Galera also a certification failure at COMMIT), lock wait timeout, busy
    /// database: roll back and run the transaction again.
    transient,
    /// The connection is gone, or its server cannot serve (a Galera node that is not ready):
    /// drop it, reconnect, run the transaction again.
    connection,
    /// A unique key was violated.
    duplicate,
    /// Anything else: retrying will not help.
    other,
  };
  db_error(kind k, int code, const std::string& what)
      : std::runtime_error(what), kind_(k), code_(code) {}
  kind what_kind() const { return kind_; }
  int code() const { return code_; }

 private:
  kind kind_;
  int code_;
};

/// A bound parameter: NULL, an integer or text.
using value = std::variant<std::nullptr_t, std::int64_t, std::string>;

/// The rows of a query, read forwards once; columns count from 0.
class rows {
 public:
  virtual ~rows() = default;
  /// Moves to the next row; false after the last.
  virtual bool next() = 0;
  virtual bool is_null(int col) = 0;
  /// The column as an integer; 0 for NULL.
  virtual std::int64_t i64(int col) = 0;
  /// The column as text; empty for NULL.
  virtual std::string text(int col) = 0;
};

/// One database connection; prepared statements are cached by their text.
class connection {
 public:
  virtual ~connection() = default;
  /// Starts a transaction (for writers, one that takes the write lock where that matters),
  /// leaving the mode `autocommit` set.
  virtual void begin() = 0;
  /// Until the next `begin`, every statement is a transaction of its own: a read that is one
  /// statement (one snapshot) then costs one round trip, with no COMMIT after it.
  virtual void autocommit() = 0;
  virtual void commit() = 0;
  /// Rolls back; never throws.
  virtual void rollback() noexcept = 0;
  /// Runs a statement with `args` bound in order; returns the rows it changed.
  virtual std::uint64_t execute(const std::string& sql, const std::vector<value>& args) = 0;
  /// Runs a query with `args` bound in order.
  virtual std::unique_ptr<rows> query(const std::string& sql, const std::vector<value>& args) = 0;
  /// Runs unprepared SQL (DDL, session settings).
  virtual void exec_raw(const std::string& sql) = 0;
  /// The id the last insert generated on this connection.
  virtual std::int64_t last_insert_id() = 0;
  /// Waits until the server behind this connection has applied every write that its cluster
  /// committed before the call (a Galera causality check), so that what follows reads them;
  /// nothing to do on a database of one server.
  virtual void sync() {}
};

/// The SQL that differs between backends.
struct dialect {
  std::string name;
  /// Appended to a SELECT that locks the rows it reads (empty where a transaction locks all).
  std::string for_update;
  /// Appended to the claim's SELECT: lock what is free, skip what another claimer holds.
  std::string for_update_skip_locked;
  /// Column type of an auto-incremented 64-bit primary key.
  std::string autoincrement_pk;
  /// Column type of a 64-bit primary key that the application assigns.
  std::string bigint_pk;
  /// Follows a table name to make the planner look rows up by primary key. Without it both
  /// planners, lacking statistics, prefer an index on `state` for `id IN (…) AND state = …`
  /// and scan every job in that state.
  std::string by_primary_key;
  /// Appended to CREATE TABLE.
  std::string table_options;
};

/// A connection lent by a pool; returned when destroyed, dropped if marked broken.
class pooled {
 public:
  pooled(connection* c, std::function<void(connection*, bool)> give_back)
      : conn_(c), give_back_(std::move(give_back)) {}
  pooled(pooled&& other) noexcept
      : conn_(std::exchange(other.conn_, nullptr)),
        give_back_(std::move(other.give_back_)),
        broken_(other.broken_) {}
  pooled(const pooled&) = delete;
  pooled& operator=(const pooled&) = delete;
  pooled& operator=(pooled&&) = delete;
  ~pooled() {
    if (conn_) give_back_(conn_, broken_);
  }
  connection& operator*() const { return *conn_; }
  connection* operator->() const { return conn_; }
  /// The connection is unusable: the pool closes it instead of reusing it.
  void mark_broken() { broken_ = true; }

 private:
  connection* conn_;
  std::function<void(connection*, bool)> give_back_;
  bool broken_ = false;
};

/// Hands out connections to one database.
class connection_pool {
 public:
  virtual ~connection_pool() = default;
  /// Lends a connection, opening one if needed; throws db_error when it cannot connect.
  virtual pooled acquire() = 0;
  /// Lends a connection for statements that each stand alone (`connection::autocommit`),
  /// preferring one left in that mode, so that readers and writers rarely switch one.
  virtual pooled acquire_for_reads() { return acquire(); }
  /// Serializes schema migrations across processes until `unlock_migrations`.
  virtual void lock_migrations(connection& c) = 0;
  /// Keeps the migration lock for a while longer, between two migrations; throws db_error if
  /// it was lost.
  virtual void extend_migrations_lock(connection& c) {}
  virtual void unlock_migrations(connection& c) noexcept = 0;
  virtual const dialect& sql() const = 0;
  /// The SQL expression of the database's current time in milliseconds since the epoch, or
  /// empty when the store's own clock is the database's (an embedded database).
  virtual std::string now_ms_sql() const { return {}; }
};

/// "(?,?,…)" with `n` placeholders.
std::string placeholders(std::size_t n);

}  // namespace ab::storage::detail
