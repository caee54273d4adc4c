// MySQL only: the store survives the server dropping its connections.

#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_connection.h>
#include <mysql_driver.h>

#include "storage/detail/pools.hpp"
#include "storage/mysql_store.hpp"
#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

/// Kills every connection to `database` except the caller's own, as a server restart would.
int kill_connections(const std::string& database) {
  auto t = storage::parse_mysql_url(mysql_test_url());
  std::unique_ptr<sql::Connection> c{sql::mysql::get_mysql_driver_instance()->connect(
      "tcp://" + t->host + ":" + std::to_string(t->port), t->user, t->password)};
  std::unique_ptr<sql::Statement> s{c->createStatement()};
  std::unique_ptr<sql::ResultSet> rs{
      s->executeQuery("SELECT id FROM information_schema.processlist WHERE db = '" + database +
                      "' AND id <> CONNECTION_ID()")};
  std::vector<std::int64_t> ids;
  while (rs->next()) ids.push_back(rs->getInt64(1));
  for (auto id : ids) {
    try {
      s->execute("KILL CONNECTION " + std::to_string(id));
    } catch (const sql::SQLException&) {
      // Already gone.
    }
  }
  return static_cast<int>(ids.size());
}

}  // namespace

using MysqlStore = StoreConformance;

TEST_P(MysqlStore, ReconnectsAfterTheServerDropsItsConnections) {
  auto id = submit_one(spec("h1", {"a", "b"}));
  auto database = store_->url().substr(store_->url().rfind('/') + 1);
  ASSERT_GT(kill_connections(database), 0);
  auto jobs = db().claim("node-a", "a", 1, 30000);
  ASSERT_TRUE(jobs) << message_of(jobs.error());
  ASSERT_EQ(jobs->size(), 1u);
  kill_connections(database);
  auto done = db().complete({{{jobs->at(0).id, jobs->at(0).lease_token}, ""}});
  ASSERT_TRUE(done) << message_of(done.error());
  EXPECT_EQ(done->completed, 1u);
  EXPECT_EQ(request(id).jobs[1].state, storage::job_state::ready);
}

TEST_P(MysqlStore, ACommitTheServerNeverMadeIsAnErrorNotASuccess) {
  // Connector/C++ 1.1.12's Connection::commit() drops the result of mysql_commit(): a COMMIT
  // on a connection that a failover cut would pass for a commit, and its transaction be lost.
  auto target = storage::parse_mysql_url(store_->url());
  ASSERT_TRUE(target);
  auto pool = storage::detail::make_mysql_pool(*target, 1);
  auto c = pool->acquire();
  c->begin();
  c->execute(
      "INSERT INTO nodes (id, site, cluster, address, last_seen) VALUES ('cut', '', '', '', 0)",
      {});
  ASSERT_GT(kill_connections(target->database), 0);
  try {
    c->commit();
    ADD_FAILURE() << "COMMIT on a killed connection reported success";
  } catch (const storage::detail::db_error& e) {
    EXPECT_EQ(e.what_kind(), storage::detail::db_error::kind::connection) << e.what();
  }
  c.mark_broken();
  auto nodes = db().nodes();
  ASSERT_TRUE(nodes) << message_of(nodes.error());
  EXPECT_TRUE(nodes->empty());
}

INSTANTIATE_TEST_SUITE_P(Mysql, MysqlStore, ::testing::Values("mysql"));

}  // namespace ab::testing
