// MySQL only: a schema that Galera can replicate, migrated under a lock that holds across
// every node of a cluster.

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include "storage/detail/schema.hpp"
#include "storage/mysql_store.hpp"
#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

/// Rows of `sql` on the scratch database, each row's columns joined with '.'.
std::vector<std::string> query_rows(const std::string& url, const std::string& sql) {
  auto t = storage::parse_mysql_url(url);
  std::unique_ptr<sql::Connection> c{sql::mysql::get_mysql_driver_instance()->connect(
      "tcp://" + t->host + ":" + std::to_string(t->port), t->user, t->password)};
  c->setSchema(t->database);
  std::unique_ptr<sql::Statement> s{c->createStatement()};
  std::unique_ptr<sql::ResultSet> rs{s->executeQuery(sql)};
  std::vector<std::string> out;
  auto columns = rs->getMetaData()->getColumnCount();
  while (rs->next()) {
    std::string row;
    for (unsigned i = 1; i <= columns; ++i)
      row += (i > 1 ? "." : "") + std::string{rs->getString(i)};
    out.push_back(row);
  }
  return out;
}

}  // namespace

using MysqlSchema = StoreConformance;

TEST_P(MysqlSchema, EveryTableHasAPrimaryKey) {
  // Galera replicates rows by primary key: a table without one replicates badly or not at
  // all (and DELETEs on it are refused under wsrep_mode=REQUIRED_PRIMARY_KEY).
  auto without = query_rows(store_->url(),
                            "SELECT t.table_name FROM information_schema.tables t "
                            "WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' "
                            "AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c "
                            "WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name "
                            "AND c.constraint_type = 'PRIMARY KEY') ORDER BY t.table_name");
  EXPECT_TRUE(without.empty()) << "tables without a primary key: "
                               << ::testing::PrintToString(without);
  auto engines = query_rows(store_->url(),
                            "SELECT table_name, engine FROM information_schema.tables WHERE "
                            "table_schema = DATABASE() AND table_type = 'BASE TABLE' AND "
                            "engine <> 'InnoDB'");
  EXPECT_TRUE(engines.empty()) << "tables Galera does not replicate: "
                               << ::testing::PrintToString(engines);
}

TEST_P(MysqlSchema, MigrationsWaitForTheSchemaLockAnotherNodeHolds) {
  // Another node holds the migration lock, as a row every Galera node sees (GET_LOCK would be
  // local to the node it ran on).
  store_->raw_sql(
      "UPDATE schema_lock SET holder = 'another-node', expires_at = "
      "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + 60000 WHERE id = 1");
  std::atomic<bool> released{false};
  auto release = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    released = true;
    store_->raw_sql("UPDATE schema_lock SET holder = '', expires_at = 0 WHERE id = 1");
  });
  auto second = store_->reopen();
  EXPECT_TRUE(released) << "the second store migrated while another node held the lock";
  release.get();
  ASSERT_TRUE(second) << message_of(second.error());
  EXPECT_EQ(test_hooks_of(**second).schema_version(), storage::detail::latest_schema_version());
  // And it released the lock when done.
  EXPECT_EQ(query_rows(store_->url(), "SELECT holder FROM schema_lock WHERE id = 1"),
            std::vector<std::string>{""});
}

TEST_P(MysqlSchema, AnExpiredSchemaLockIsTakenOver) {
  // A migrator that died keeps the lock only until it expires.
  store_->raw_sql("UPDATE schema_lock SET holder = 'dead-node', expires_at = 1 WHERE id = 1");
  auto second = store_->reopen();
  ASSERT_TRUE(second) << message_of(second.error());
  EXPECT_EQ(query_rows(store_->url(), "SELECT holder FROM schema_lock WHERE id = 1"),
            std::vector<std::string>{""});
}

TEST_P(MysqlSchema, NodesStartingTogetherMigrateOnceEach) {
  // A database as the first start finds it: empty.
  for (const auto& t : query_rows(store_->url(),
                                  "SELECT table_name FROM information_schema.tables WHERE "
                                  "table_schema = DATABASE()"))
    store_->raw_sql("DROP TABLE " + t);
  std::vector<std::future<caf::expected<std::unique_ptr<storage::store>>>> opening;
  for (int i = 0; i < 4; ++i)
    opening.push_back(std::async(std::launch::async, [&] { return store_->reopen(); }));
  for (auto& f : opening) {
    auto s = f.get();
    ASSERT_TRUE(s) << message_of(s.error());
    EXPECT_EQ(test_hooks_of(**s).schema_version(), storage::detail::latest_schema_version());
  }
  auto versions = query_rows(store_->url(), "SELECT COUNT(*) FROM schema_migrations");
  EXPECT_EQ(versions,
            std::vector<std::string>{std::to_string(storage::detail::latest_schema_version())});
}

INSTANTIATE_TEST_SUITE_P(Mysql, MysqlSchema, ::testing::Values("mysql"));

}  // namespace ab::testing
