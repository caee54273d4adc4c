#include "tests/fakes/test_store.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <mysql_connection.h>
#include <mysql_driver.h>
#include <sqlite3.h>
#include <unistd.h>

#include "core/error.hpp"
#include "storage/mysql_store.hpp"

namespace ab::testing {

namespace {

std::unique_ptr<sql::Connection> admin_connection(const storage::mysql_target& t) {
  auto* driver = sql::mysql::get_mysql_driver_instance();
  std::unique_ptr<sql::Connection> c{
      driver->connect("tcp://" + t.host + ":" + std::to_string(t.port), t.user, t.password)};
  return c;
}

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(rd() % 100000);
}

}  // namespace

storage::detail::test_hooks& test_hooks_of(storage::store& s) {
  // Both backends are the one SQL store, which implements the hooks beside its roles.
  return dynamic_cast<storage::detail::test_hooks&>(s);
}

std::string mysql_test_url() {
  const char* url = std::getenv("AB_MYSQL_URL");
  return url ? url : "";
}

scratch_store::scratch_store(const std::string& backend, std::shared_ptr<const ab::clock> clk,
                             storage::queue_policy policy, int schema_max)
    : backend_(backend), clock_(std::move(clk)) {
  if (backend == "sqlite") {
    name_ = (std::filesystem::temp_directory_path() / ("ab_test_" + unique_suffix() + ".db"));
    url_ = "sqlite:" + name_;
  } else {
    auto base = mysql_test_url();
    if (base.empty()) {
      ADD_FAILURE() << "AB_MYSQL_URL is not set: run the MySQL tests through scripts/test, which "
                       "starts a private MariaDB";
      return;
    }
    auto target = storage::parse_mysql_url(base);
    if (!target) {
      ADD_FAILURE() << message_of(target.error());
      return;
    }
    name_ = "ab_test_" + unique_suffix();
    auto admin = admin_connection(*target);
    std::unique_ptr<sql::Statement> s{admin->createStatement()};
    s->execute("CREATE DATABASE " + name_);
    url_ = base.substr(0, base.rfind('/') + 1) + name_;
  }
  storage::store_options opts;
  opts.url = url_;
  opts.pool_size = 16;
  opts.policy = std::move(policy);
  opts.schema_max = schema_max;
  auto s = storage::open_store(opts, clock_);
  if (!s) {
    ADD_FAILURE() << "cannot open " << backend << " store: " << message_of(s.error());
    return;
  }
  store_ = std::move(*s);
}

scratch_store::~scratch_store() {
  store_.reset();
  if (name_.empty()) return;
  if (backend_ == "sqlite") {
    std::error_code ec;
    for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(name_ + suffix, ec);
    // The node-id lock files beside the database (`NAME.autobuild.node.ID.lock`).
    auto dir = std::filesystem::path(name_).parent_path();
    auto prefix = std::filesystem::path(name_).filename().string() + ".";
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().filename().string().rfind(prefix, 0) == 0 && e.path().extension() == ".lock")
        std::filesystem::remove(e.path(), ec);
    return;
  }
  try {
    auto target = storage::parse_mysql_url(mysql_test_url());
    auto admin = admin_connection(*target);
    std::unique_ptr<sql::Statement> s{admin->createStatement()};
    s->execute("DROP DATABASE IF EXISTS " + name_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot drop test database " << name_ << ": " << e.what();
  }
}

storage::detail::test_hooks& scratch_store::hooks() const {
  return test_hooks_of(*store_);
}

caf::expected<std::unique_ptr<storage::store>> scratch_store::reopen(storage::queue_policy policy,
                                                                     int schema_max) const {
  storage::store_options opts;
  opts.url = url_;
  opts.pool_size = 4;
  opts.policy = std::move(policy);
  opts.schema_max = schema_max;
  return storage::open_store(opts, clock_);
}

void scratch_store::raw_sql(const std::string& sql) const {
  if (backend_ == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(name_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string why = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
    return;
  }
  auto target = storage::parse_mysql_url(url_);
  auto c = admin_connection(*target);
  c->setSchema(target->database);
  std::unique_ptr<sql::Statement> s{c->createStatement()};
  s->execute(sql);
}

}  // namespace ab::testing
