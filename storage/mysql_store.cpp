// The MySQL adapter: Connector/C++ 1.1 connections in a pool, server-side prepared statements
// cached per connection, READ COMMITTED transactions (SKIP LOCKED scans then take no
// next-key locks), and matched-row counts (CLIENT_FOUND_ROWS) like SQLite's.

#include "storage/mysql_store.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage {

namespace detail {

db_error::kind classify_mysql_error(int code) {
  switch (code) {
    case 1205:  // lock wait timeout
    case 1213:  // deadlock; on Galera also a certification failure (at COMMIT or before)
    case 1180:  // error during COMMIT: nothing was committed
      return db_error::kind::transient;
    case 1062:  // duplicate key
      return db_error::kind::duplicate;
    case 1040:  // too many connections
    case 1047:  // Galera: "WSREP has not yet prepared node for application use"
    case 1053:  // server shutdown in progress
    case 1152:  // aborted connection
    case 1158:  // read error from the network
    case 1159:  // network read timeout
    case 1160:  // write error to the network
    case 1161:  // network write timeout
    case 1927:  // connection was killed
    case 4031:  // disconnected by the server for inactivity
      // A new connection goes (through HAProxy) to a server that can answer.
      return db_error::kind::connection;
    default:
      // 2000-2999 are client-side errors: cannot connect, server gone away, lost connection.
      return code >= 2000 && code < 3000 ? db_error::kind::connection : db_error::kind::other;
  }
}

}  // namespace detail

namespace {

using namespace detail;

[[noreturn]] void rethrow(const sql::SQLException& e, const std::string& context) {
  throw db_error(
      classify_mysql_error(e.getErrorCode()), e.getErrorCode(),
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
      // SHOW VARIABLES answers on every server (MySQL has no @@wsrep_on).
      {
        std::unique_ptr<sql::ResultSet> rs{s->executeQuery("SHOW VARIABLES LIKE 'wsrep_on'")};
        galera_ = rs->next() && std::string{rs->getString(2)} == "ON";
      }
      if (galera_) {
        if (t.wsrep_sync_wait >= 0)
          s->execute("SET SESSION wsrep_sync_wait = " + std::to_string(t.wsrep_sync_wait));
        // This connection may be the first on a node that took over from a failed one: wait
        // until the node has applied what the cluster committed, so that every write
        // acknowledged before the failover is seen.
        std::unique_ptr<sql::ResultSet> rs{s->executeQuery(
            "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT @@wsrep_node_name, @@port, "
            "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = "
            "'WSREP_CLUSTER_SIZE')")};
        if (rs->next())
          node_ = std::string{rs->getString(1)} + " (port " + std::string{rs->getString(2)} +
                  ", cluster size " + std::string{rs->getString(3)} + ")";
      }
      con_->setAutoCommit(false);
      return 0;
    });
  }

  /// On Galera, the node this connection reached, e.g. "n2 (port 13307, cluster size 2)";
  /// empty elsewhere.
  const std::string& galera_node() const { return node_; }

  void sync() override {
    if (galera_) exec_raw("SET STATEMENT wsrep_sync_wait = 1 FOR SELECT 1");
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
      // Not con_->commit(): Connector/C++ 1.1.12 (Debian 12) drops mysql_commit()'s result, so
      // a COMMIT that failed (a certification failure, a connection cut by a failover) would
      // pass for a commit. A statement reports every error.
      std::unique_ptr<sql::Statement> s{con_->createStatement()};
      s->execute("COMMIT");
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
  bool galera_ = false;
  std::string node_;
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
    // The schema lock's holder: this pool, also when a migration is tried again.
    std::random_device rd;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%08x%08x@%d", rd(), rd(), static_cast<int>(getpid()));
    holder_ = buf;
    log_ = spdlog::get("storage");
    if (!log_) log_ = spdlog::default_logger()->clone("storage");
  }

  pooled acquire() override { return acquire_in(false); }
  pooled acquire_for_reads() override { return acquire_in(true); }

  // GET_LOCK is local to one Galera node: the migration lock is a row, which every node of
  // a cluster sees (two nodes taking it at once through two Galera nodes conflict at
  // certification, and one retries). It expires, so that a migrator that died frees it.
  void lock_migrations(connection& c) override {
    c.exec_raw(
        "CREATE TABLE IF NOT EXISTS schema_lock (id INT NOT NULL PRIMARY KEY, holder "
        "VARCHAR(64) NOT NULL, expires_at BIGINT NOT NULL)" +
        sql_.table_options);
    c.exec_raw("INSERT IGNORE INTO schema_lock (id, holder, expires_at) VALUES (1, '', 0)");
    c.commit();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      try {
        if (extend_lock(c, true)) return;
      } catch (const db_error& e) {
        c.rollback();
        if (e.what_kind() != db_error::kind::transient) throw;
      }
      if (std::chrono::steady_clock::now() > give_up)
        throw db_error(db_error::kind::transient, 0,
                       "another node holds the schema lock (row 1 of table schema_lock) and has "
                       "not released it within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  void extend_migrations_lock(connection& c) override {
    if (!extend_lock(c, false))
      throw db_error(db_error::kind::other, 0, "lost the schema lock during a migration");
  }
  void unlock_migrations(connection& c) noexcept override {
    try {
      c.rollback();
      c.execute("UPDATE schema_lock SET holder = '', expires_at = 0 WHERE id = 1 AND holder = ?",
                {holder_});
      c.commit();
    } catch (...) {
      // It expires on its own.
    }
  }
  const dialect& sql() const override { return sql_; }
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
      auto* c = new mysql_connection(target_);
      note_node(c->galera_node());
      return lend(c);
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

  /// Logs the Galera node that new connections reach when it changes (a failover).
  void note_node(const std::string& node) {
    if (node.empty()) return;
    std::lock_guard<std::mutex> guard{mutex_};
    if (node == node_) return;
    if (node_.empty())
      log_->info("connected to Galera node {}", node);
    else
      log_->warn("the database is now Galera node {} (was {})", node, node_);
    node_ = node;
  }

  /// Takes the schema lock (`take`: also when free or expired) or extends this holder's, for
  /// the next `migration_lock_ms`; true if held.
  bool extend_lock(connection& c, bool take) {
    auto now = now_ms_sql();
    auto n = c.execute("UPDATE schema_lock SET holder = ?, expires_at = " + now + " + " +
                           std::to_string(migration_lock_ms) + " WHERE id = 1 AND (holder = ?" +
                           (take ? " OR holder = '' OR expires_at < " + now : std::string{}) + ")",
                       {holder_, holder_});
    c.commit();
    return n == 1;
  }

  /// How long the schema lock lasts unless extended after each migration. A step that takes
  /// longer (DDL on a big table, which Galera runs in total order isolation) may let another
  /// node start the same step; every step is idempotent, and TOI runs DDL one at a time.
  static constexpr int migration_lock_ms = 120000;

  mysql_target target_;
  std::size_t size_;
  dialect sql_;
  std::string holder_;
  std::shared_ptr<spdlog::logger> log_;
  std::string node_;
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
  if (auto q = t.database.find('?'); q != std::string::npos) {
    auto options = t.database.substr(q + 1);
    t.database.resize(q);
    const std::string key = "wsrep_sync_wait=";
    if (options.rfind(key, 0) != 0) return bad("the only option is wsrep_sync_wait=N");
    auto n = options.substr(key.size());
    if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(n) > 15)
      return bad("wsrep_sync_wait is a number from 0 to 15");
    t.wsrep_sync_wait = std::stoi(n);
  }
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
                                                       queue_policy policy, int schema_max) {
  if (pool_size < 1) return make_error(errc::bad_config, "MySQL pool size must be at least 1");
  auto s = std::make_unique<sql_store>(make_mysql_pool(target, pool_size), std::move(clk),
                                       std::move(policy));
  if (auto err = s->open(schema_max)) return err;
  return std::unique_ptr<store>{std::move(s)};
}

}  // namespace ab::storage
