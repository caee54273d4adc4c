// The SQLite adapter: one connection in WAL mode behind a mutex. SQLite has one writer at a
// time anyway, so transactions take the write lock at BEGIN (IMMEDIATE) and row locks
// (FOR UPDATE, SKIP LOCKED) are unnecessary.

#include "storage/sqlite_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "core/error.hpp"
#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage {

namespace {

using namespace detail;

[[noreturn]] void raise(sqlite3* db, int rc, const std::string& context) {
  auto primary = rc & 0xff;
  auto kind = db_error::kind::other;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    kind = db_error::kind::transient;
  else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    kind = db_error::kind::duplicate;
  throw db_error(kind, rc, context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

class sqlite_rows final : public rows {
 public:
  sqlite_rows(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~sqlite_rows() override { sqlite3_reset(stmt_); }
  bool next() override {
    auto rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    raise(db_, rc, "step");
  }
  bool is_null(int col) override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t i64(int col) override { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) override {
    auto p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string{};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class sqlite_connection final : public connection {
 public:
  explicit sqlite_connection(const std::string& path) {
    auto rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw db_error(db_error::kind::other, rc, "cannot open SQLite database " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    // WAL lets readers of other processes (an operator's sqlite3 shell) run beside the node;
    // synchronous=FULL makes every commit durable, as the queue's guarantees require.
    exec_raw("PRAGMA journal_mode=WAL");
    exec_raw("PRAGMA synchronous=FULL");
  }
  ~sqlite_connection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }
  sqlite_connection(const sqlite_connection&) = delete;
  sqlite_connection& operator=(const sqlite_connection&) = delete;

  void begin() override { exec_raw("BEGIN IMMEDIATE"); }
  // Outside BEGIN … COMMIT every statement is a transaction of its own already.
  void autocommit() override {}
  void commit() override { exec_raw("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  std::uint64_t execute(const std::string& sql, const std::vector<value>& args) override {
    auto stmt = prepare(sql, args);
    auto rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) raise(db_, rc, sql);
    return static_cast<std::uint64_t>(sqlite3_changes(db_));
  }

  std::unique_ptr<rows> query(const std::string& sql, const std::vector<value>& args) override {
    return std::make_unique<sqlite_rows>(db_, prepare(sql, args));
  }

  void exec_raw(const std::string& sql) override {
    char* err = nullptr;
    auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string why = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      auto primary = rc & 0xff;
      throw db_error(primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? db_error::kind::transient
                                                                        : db_error::kind::other,
                     rc, sql + ": " + why);
    }
  }

  std::int64_t last_insert_id() override { return sqlite3_last_insert_rowid(db_); }

 private:
  sqlite3_stmt* prepare(const std::string& sql, const std::vector<value>& args) {
    auto& stmt = cache_[sql];
    if (!stmt) {
      auto rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                   SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        cache_.erase(sql);
        raise(db_, rc, "prepare " + sql);
      }
    }
    sqlite3_clear_bindings(stmt);
    for (std::size_t i = 0; i < args.size(); ++i) {
      auto idx = static_cast<int>(i + 1);
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              sqlite3_bind_null(stmt, idx);
            else if constexpr (std::is_same_v<T, std::int64_t>)
              sqlite3_bind_int64(stmt, idx, v);
            else
              sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
          },
          args[i]);
    }
    return stmt;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class sqlite_pool final : public connection_pool {
 public:
  explicit sqlite_pool(const std::string& path) : path_(path), conn_(path) {
    sql_.name = "sqlite";
    sql_.autoincrement_pk = "INTEGER PRIMARY KEY AUTOINCREMENT";
    // INTEGER PRIMARY KEY makes the id the rowid: lookups by id need no separate index.
    sql_.bigint_pk = "INTEGER PRIMARY KEY";
    sql_.by_primary_key = " NOT INDEXED";
  }

  pooled acquire() override {
    mutex_.lock();
    return pooled{&conn_, [this](connection*, bool) { mutex_.unlock(); }};
  }
  void lock_migrations(connection&) override {}
  void unlock_migrations(connection&) noexcept override {}
  const dialect& sql() const override { return sql_; }

 private:
  std::string path_;
  std::mutex mutex_;
  sqlite_connection conn_;
  dialect sql_;
};

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("storage");
  return log ? log : spdlog::default_logger()->clone("storage");
}

/// Makes the database private before SQLite opens it. A directory created here is 0700; an
/// existing one is left as it is (it may be shared, like a working directory), with a warning
/// when others may write to it. The file is created 0600, an existing one tightened to 0600,
/// and so are its -wal, -shm and -journal files (SQLite gives new ones the database's mode).
caf::error make_private(const std::string& path) {
  if (path.empty() || path == ":memory:") return {};
  auto parent = std::filesystem::path(path).parent_path();
  struct stat st {};
  if (!parent.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec)
        return make_error(errc::store_unavailable, "cannot create the directory " +
                                                       parent.string() +
                                                       " of the SQLite database: " + ec.message());
      if (::chmod(parent.c_str(), 0700) != 0)
        logger()->warn("cannot make {} private (0700): {}", parent.string(), std::strerror(errno));
    } else if (::stat(parent.c_str(), &st) == 0 && (st.st_mode & 022) != 0) {
      logger()->warn(
          "the directory {} of the SQLite database is writable by others (mode {:o}): they "
          "could replace or delete the database; use a directory of mode 0700",
          parent.string(), st.st_mode & 07777);
    }
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errc::store_unavailable,
                      "cannot open SQLite database " + path + ": " + std::strerror(errno));
  auto tighten = [](const std::string& file, int file_fd) {
    struct stat fs {};
    bool known = file_fd >= 0 ? ::fstat(file_fd, &fs) == 0 : ::stat(file.c_str(), &fs) == 0;
    if (!known || (fs.st_mode & 077) == 0) return;
    int rc = file_fd >= 0 ? ::fchmod(file_fd, 0600) : ::chmod(file.c_str(), 0600);
    if (rc == 0)
      logger()->warn("{} was readable by others (mode {:o}); made it 0600", file,
                     fs.st_mode & 07777);
    else
      logger()->warn("{} is readable by others (mode {:o}) and cannot be made private: {}", file,
                     fs.st_mode & 07777, std::strerror(errno));
  };
  tighten(path, fd);
  ::close(fd);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) tighten(path + suffix, -1);
  return {};
}

}  // namespace

namespace detail {

std::unique_ptr<connection_pool> make_sqlite_pool(const std::string& path) {
  return std::make_unique<sqlite_pool>(path);
}

}  // namespace detail

caf::expected<std::unique_ptr<store>> open_sqlite_store(const std::string& path,
                                                        std::shared_ptr<const ab::clock> clk,
                                                        queue_policy policy, int schema_max) {
  try {
    if (auto err = make_private(path)) return err;
    auto s = std::make_unique<sql_store>(make_sqlite_pool(path), std::move(clk), std::move(policy));
    if (auto err = s->open(schema_max)) return err;
    return std::unique_ptr<store>{std::move(s)};
  } catch (const db_error& e) {
    return make_error(errc::store_unavailable, e.what());
  }
}

}  // namespace ab::storage
