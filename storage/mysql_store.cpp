// The MySQL adapter: Connector/C++ 1.1 connections in a pool, server-side prepared statements
// cached per connection, READ COMMITTED transactions (SKIP LOCKED scans then take no
// next-key locks), and matched-row counts (CLIENT_FOUND_ROWS) like SQLite's.

#include "storage/mysql_store.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage {

namespace {

using namespace detail;

db_error::kind classify(int code) {
  switch (code) {
    case 1205:  // lock wait timeout
    case 1213:  // deadlock
      return db_error::kind::transient;
    case 1062:  // duplicate key
      return db_error::kind::duplicate;
    case 1053:  // server shutdown in progress
    case 1152:  // aborted connection
    case 1927:  // connection was killed
    case 4031:  // disconnected by the server for inactivity
      return db_error::kind::connection;
    default:
      // 2000-2999 are client-side errors: cannot connect, server gone away, lost connection.
      return code >= 2000 && code < 3000 ? db_error::kind::connection : db_error::kind::other;
  }
}

[[noreturn]] void rethrow(const sql::SQLException& e, const std::string& context) {
  throw db_error(
      classify(e.getErrorCode()), e.getErrorCode(),
      context + ": " + e.what() + " (MySQL error " + std::to_string(e.getErrorCode()) + ")");
}

/// Runs `fn`, turning Connector/C++ exceptions into db_error.
template <class F>
auto guarded(const std::string& context, F&& fn) {
  try {
    return fn();
  } catch (const sql::SQLException& e) {
    rethrow(e, context);
  }
}

/// Makes Connector/C++ (libmysqlclient) usable from the calling thread, once per thread.
void ensure_thread_init() {
  struct thread_guard {
    thread_guard() { sql::mysql::get_mysql_driver_instance()->threadInit(); }
    ~thread_guard() { sql::mysql::get_mysql_driver_instance()->threadEnd(); }
  };
  thread_local thread_guard guard;
}

class mysql_rows final : public rows {
 public:
  explicit mysql_rows(sql::ResultSet* rs) : rs_(rs) {}
  bool next() override {
    return guarded("next row", [&] { return rs_->next(); });
  }
  bool is_null(int col) override { return rs_->isNull(static_cast<std::uint32_t>(col + 1)); }
  std::int64_t i64(int col) override {
    return guarded("read", [&] { return rs_->getInt64(static_cast<std::uint32_t>(col + 1)); });
  }
  std::string text(int col) override {
    return guarded(
        "read", [&] { return std::string{rs_->getString(static_cast<std::uint32_t>(col + 1))}; });
  }

 private:
  std::unique_ptr<sql::ResultSet> rs_;
};

class mysql_connection final : public connection {
 public:
  explicit mysql_connection(const mysql_target& t) {
    guarded("connect to " + t.host + ":" + std::to_string(t.port), [&] {
      sql::ConnectOptionsMap opts;
      opts["hostName"] = sql::SQLString{"tcp://" + t.host + ":" + std::to_string(t.port)};
      opts["userName"] = sql::SQLString{t.user};
      opts["password"] = sql::SQLString{t.password};
      opts["schema"] = sql::SQLString{t.database};
      opts["CLIENT_FOUND_ROWS"] = true;
      opts["OPT_RECONNECT"] = false;
      opts["OPT_CONNECT_TIMEOUT"] = 5;
      opts["OPT_READ_TIMEOUT"] = 30;
      opts["OPT_WRITE_TIMEOUT"] = 30;
      opts["OPT_CHARSET_NAME"] = sql::SQLString{"utf8mb4"};
      con_.reset(sql::mysql::get_mysql_driver_instance()->connect(opts));
      std::unique_ptr<sql::Statement> s{con_->createStatement()};
      s->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
      s->execute("SET SESSION innodb_lock_wait_timeout = 10");
      con_->setAutoCommit(false);
      return 0;
    });
  }

  // Autocommit is off: the first statement opens the transaction.
  void begin() override {
    if (!autocommit_) return;
    guarded("begin", [&] {
      con_->setAutoCommit(false);
      return 0;
    });
    autocommit_ = false;
  }
  void autocommit() override {
    if (autocommit_) return;
    guarded("autocommit", [&] {
      con_->setAutoCommit(true);
      return 0;
    });
    autocommit_ = true;
  }
  /// Whether statements commit on their own (`autocommit`) rather than in a transaction.
  bool in_autocommit() const { return autocommit_; }
  void commit() override {
    guarded("commit", [&] {
      con_->commit();
      return 0;
    });
  }
  void rollback() noexcept override {
    try {
      con_->rollback();
    } catch (...) {
      // The connection may be gone; the pool drops it.
    }
  }

  std::uint64_t execute(const std::string& sql, const std::vector<value>& args) override {
    return guarded(sql,
                   [&] { return static_cast<std::uint64_t>(prepare(sql, args).executeUpdate()); });
  }

  std::unique_ptr<rows> query(const std::string& sql, const std::vector<value>& args) override {
    return guarded(sql,
                   [&] { return std::make_unique<mysql_rows>(prepare(sql, args).executeQuery()); });
  }

  void exec_raw(const std::string& sql) override {
    guarded(sql, [&] {
      std::unique_ptr<sql::Statement> s{con_->createStatement()};
      s->execute(sql);
      // Drain any result set so that the connection stays usable.
      std::unique_ptr<sql::ResultSet> rs{s->getResultSet()};
      return 0;
    });
  }

  std::int64_t last_insert_id() override {
    auto r = query("SELECT LAST_INSERT_ID()", {});
    return r->next() ? r->i64(0) : 0;
  }

 private:
  sql::PreparedStatement& prepare(const std::string& sql, const std::vector<value>& args) {
    auto& stmt = cache_[sql];
    if (!stmt) {
      try {
        stmt.reset(con_->prepareStatement(sql));
      } catch (...) {
        cache_.erase(sql);
        throw;
      }
    }
    stmt->clearParameters();
    for (std::size_t i = 0; i < args.size(); ++i) {
      auto idx = static_cast<unsigned>(i + 1);
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              stmt->setNull(idx, 0);
            else if constexpr (std::is_same_v<T, std::int64_t>)
              stmt->setInt64(idx, v);
            else
              stmt->setString(idx, sql::SQLString{v});
          },
          args[i]);
    }
    return *stmt;
  }

  std::unique_ptr<sql::Connection> con_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> cache_;
  bool autocommit_ = false;
};

/// MariaDB's named locks take at most 64 characters: a longer name is cut and keeps a hash.
std::string lock_name(const std::string& name) {
  if (name.size() <= 64) return name;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(name)));
  return name.substr(0, 47) + "#" + hex;
}

/// A `GET_LOCK` held by a connection of its own: the server frees it when the connection
/// ends, so a killed process's lock is free at once. On Galera it is node-local: two
/// processes writing through different Galera nodes would not see each other's lock.
class mysql_lock final : public held_lock {
 public:
  /// Named locks are server-wide: the name carries the database, so that two site databases
  /// (or two test databases) on one server never share a lock.
  mysql_lock(mysql_target target, const std::string& name)
      : target_(std::move(target)), name_(lock_name(target_.database + "/" + name)) {}

  /// Connects and takes the lock; false when another connection holds it.
  bool take() {
    conn_ = std::make_unique<mysql_connection>(target_);
    auto r = conn_->query("SELECT GET_LOCK(?, 0)", {name_});
    bool got = r->next() && !r->is_null(0) && r->i64(0) == 1;
    r.reset();
    conn_->commit();
    return got;
  }

  bool refresh() override {
    ensure_thread_init();
    if (conn_) {
      try {
        auto r = conn_->query("SELECT COALESCE(IS_USED_LOCK(?) = CONNECTION_ID(), 0)", {name_});
        bool held = r->next() && r->i64(0) == 1;
        r.reset();
        conn_->commit();
        return held;
      } catch (const db_error& e) {
        if (e.what_kind() != db_error::kind::connection) throw;
        conn_.reset();
      }
    }
    // The connection was lost, and the lock with it: take it again if nobody else did.
    return take();
  }

 private:
  mysql_target target_;
  std::string name_;
  std::unique_ptr<mysql_connection> conn_;
};

class mysql_pool final : public connection_pool {
 public:
  mysql_pool(mysql_target target, std::size_t size) : target_(std::move(target)), size_(size) {
    sql_.name = "mysql";
    sql_.for_update = " FOR UPDATE";
    sql_.for_update_skip_locked = " FOR UPDATE SKIP LOCKED";
    sql_.autoincrement_pk = "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY";
    sql_.bigint_pk = "BIGINT NOT NULL PRIMARY KEY";
    sql_.by_primary_key = " FORCE INDEX (PRIMARY)";
    sql_.table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
  }

  pooled acquire() override { return acquire_in(false); }
  pooled acquire_for_reads() override { return acquire_in(true); }

  void lock_migrations(connection& c) override {
    auto r = c.query("SELECT GET_LOCK('autobuild_schema', 60)", {});
    if (!r->next() || r->i64(0) != 1)
      throw db_error(db_error::kind::transient, 0, "another node holds the schema lock");
  }
  void unlock_migrations(connection& c) noexcept override {
    try {
      c.query("SELECT RELEASE_LOCK('autobuild_schema')", {})->next();
    } catch (...) {
      // Released by the server when the connection closes anyway.
    }
  }
  const dialect& sql() const override { return sql_; }
  std::unique_ptr<held_lock> hold_lock(const std::string& name) override {
    ensure_thread_init();
    auto lock = std::make_unique<mysql_lock>(target_, name);
    if (!lock->take()) return nullptr;
    return lock;
  }
  std::string now_ms_sql() const override {
    return "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";
  }

 private:
  /// An idle connection, the most recently used one whose mode is `autocommit` if any, or a
  /// new one.
  pooled acquire_in(bool autocommit) {
    ensure_thread_init();
    std::unique_lock<std::mutex> lock{mutex_};
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto it = std::find_if(idle_.rbegin(), idle_.rend(),
                             [&](const auto& c) { return c->in_autocommit() == autocommit; });
      auto chosen = it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
      auto* c = chosen->release();
      idle_.erase(chosen);
      return lend(c);
    }
    ++open_;
    lock.unlock();
    try {
      return lend(new mysql_connection(target_));
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
  }

  pooled lend(mysql_connection* c) {
    return pooled{c, [this](connection* conn, bool broken) {
                    std::unique_ptr<mysql_connection> owned{static_cast<mysql_connection*>(conn)};
                    std::lock_guard<std::mutex> guard{mutex_};
                    if (broken)
                      --open_;
                    else
                      idle_.push_back(std::move(owned));
                    cv_.notify_one();
                  }};
  }

  mysql_target target_;
  std::size_t size_;
  dialect sql_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<mysql_connection>> idle_;
  std::size_t open_ = 0;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

namespace detail {

std::unique_ptr<connection_pool> make_mysql_pool(const mysql_target& target, std::size_t size) {
  // Connector/C++ wants its driver created once before threads use it.
  static std::once_flag driver_once;
  std::call_once(driver_once, [] { sql::mysql::get_mysql_driver_instance(); });
  return std::make_unique<mysql_pool>(target, size);
}

}  // namespace detail

caf::expected<mysql_target> parse_mysql_url(const std::string& url) {
  auto bad = [&](const std::string& why) {
    // Never echo the URL: it carries the password.
    return make_error(errc::bad_config,
                      "invalid MySQL URL: " + why + " (expected mysql://USER:PASS@HOST[:PORT]/DB)");
  };
  const std::string scheme = "mysql://";
  if (url.rfind(scheme, 0) != 0) return bad("it does not start with mysql://");
  auto rest = url.substr(scheme.size());
  auto at = rest.rfind('@');
  if (at == std::string::npos) return bad("no USER:PASS@ part");
  auto cred = rest.substr(0, at);
  auto location = rest.substr(at + 1);
  mysql_target t;
  auto colon = cred.find(':');
  t.user = cred.substr(0, colon);
  if (t.user.empty()) return bad("empty user");
  if (colon != std::string::npos) {
    auto pw = percent_decode(cred.substr(colon + 1));
    if (!pw) return bad("bad percent-encoding in the password");
    t.password = *pw;
  }
  auto slash = location.find('/');
  if (slash == std::string::npos) return bad("no /DB part");
  t.database = location.substr(slash + 1);
  if (t.database.empty()) return bad("empty database name");
  auto hostport = location.substr(0, slash);
  auto pc = hostport.rfind(':');
  t.host = hostport.substr(0, pc);
  if (t.host.empty()) return bad("empty host");
  if (pc != std::string::npos) {
    auto port = hostport.substr(pc + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos)
      return bad("port is not a number");
    t.port = std::stoi(port);
    if (t.port < 1 || t.port > 65535) return bad("port out of range");
  }
  return t;
}

caf::expected<std::unique_ptr<store>> open_mysql_store(const mysql_target& target,
                                                       std::size_t pool_size,
                                                       std::shared_ptr<const ab::clock> clk,
                                                       queue_policy policy) {
  if (pool_size < 1) return make_error(errc::bad_config, "MySQL pool size must be at least 1");
  auto s = std::make_unique<sql_store>(make_mysql_pool(target, pool_size), std::move(clk),
                                       std::move(policy));
  if (auto err = s->open()) return err;
  return std::unique_ptr<store>{std::move(s)};
}

}  // namespace ab::storage
