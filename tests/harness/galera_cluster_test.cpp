// scripts/galera through the harness: a real 3-node Galera cluster behind HAProxy, whose
// check takes out a node that is killed, desynced or rejects queries, sends writes to the
// next node, and lets the node back once it is Synced again.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness/child_process.hpp"
#include "harness/galera_cluster.hpp"

namespace ab::harness {
namespace {

using namespace std::chrono_literals;

// Bounds, not expectations: a check runs every second, out after 2 failures.
constexpr auto failover_limit = 60s;

galera_options options() {
  galera_options o;
  o.source_dir = AB_SOURCE_DIR;
  return o;
}

/// The trimmed output of `result` (one value).
std::string value(const command_result& result) {
  auto out = result.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// Waits until HAProxy's state of `node` starts with `prefix` ("UP", "DOWN").
bool wait_for_state(galera_cluster& cluster, int node, const std::string& prefix) {
  auto end = std::chrono::steady_clock::now() + failover_limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cluster.proxy_state(node).rfind(prefix, 0) == 0) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

/// The pids in the cluster's pid files (nodes and HAProxy).
std::vector<pid_t> pids_of(const galera_cluster& cluster) {
  std::vector<pid_t> pids;
  for (auto file :
       {"/node1/mysqld.pid", "/node2/mysqld.pid", "/node3/mysqld.pid", "/haproxy.pid"}) {
    auto text = read_text(cluster.dir() + file);
    if (!text.empty()) pids.push_back(static_cast<pid_t>(std::stoi(text)));
  }
  return pids;
}

TEST(GaleraCluster, AKilledWriterIsTakenOutWritesGoToTheNextNodeAndItRejoins) {
  galera_cluster cluster{options()};
  ASSERT_TRUE(cluster.ok()) << cluster.output();
  EXPECT_EQ(cluster.url().rfind("mysql://autobuild:", 0), 0u) << cluster.url();
  EXPECT_NE(cluster.url().find("@127.0.0.1:" + std::to_string(cluster.proxy_port()) + "/autobuild"),
            std::string::npos)
      << cluster.url();
  EXPECT_EQ(cluster.writer(), 1) << cluster.status();
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node1");
  ASSERT_TRUE(cluster
                  .proxy_sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(16));"
                             "INSERT INTO t VALUES (1, 'before')")
                  .ok());

  ASSERT_TRUE(cluster.kill(1)) << cluster.output();
  ASSERT_TRUE(cluster.wait_for_writer(2, failover_limit)) << cluster.status();
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node2");
  auto during = cluster.proxy_sql("INSERT INTO t VALUES (2, 'during')");
  ASSERT_TRUE(during.ok()) << during.output;
  EXPECT_EQ(value(cluster.root_sql(3,
                                   "SET SESSION wsrep_sync_wait=1;"
                                   "SELECT GROUP_CONCAT(v ORDER BY id) FROM autobuild.t")),
            "before,during");

  ASSERT_TRUE(cluster.restart(1)) << cluster.output();
  ASSERT_TRUE(cluster.wait_for_writer(1, failover_limit)) << cluster.status();
  // It caught up with what was written while it was down.
  EXPECT_EQ(value(cluster.root_sql(1,
                                   "SET SESSION wsrep_sync_wait=1;"
                                   "SELECT GROUP_CONCAT(v ORDER BY id) FROM autobuild.t")),
            "before,during");
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node1");

  auto pids = pids_of(cluster);
  EXPECT_EQ(pids.size(), 4u);
  EXPECT_TRUE(cluster.stop()) << cluster.output();
  for (auto pid : pids) EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still runs";
}

TEST(GaleraCluster, ADesyncedOrRejectingNodeIsTakenOutAndComesBackOnceSynced) {
  galera_cluster cluster{options()};
  ASSERT_TRUE(cluster.ok()) << cluster.output();
  ASSERT_EQ(cluster.writer(), 1) << cluster.status();

  ASSERT_TRUE(cluster.root_sql(1, "SET GLOBAL wsrep_desync=ON").ok());
  ASSERT_TRUE(cluster.wait_for_writer(2, failover_limit)) << cluster.status();
  EXPECT_EQ(cluster.proxy_state(1).rfind("DOWN", 0), 0u) << cluster.status();
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node2");

  // With node 2 refusing queries too, writes go to node 3.
  ASSERT_TRUE(cluster.root_sql(2, "SET GLOBAL wsrep_reject_queries=ALL").ok());
  ASSERT_TRUE(cluster.wait_for_writer(3, failover_limit)) << cluster.status();
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node3");

  ASSERT_TRUE(cluster.root_sql(2, "SET GLOBAL wsrep_reject_queries=NONE").ok());
  EXPECT_TRUE(wait_for_state(cluster, 2, "UP")) << cluster.status();
  ASSERT_TRUE(cluster.root_sql(1, "SET GLOBAL wsrep_desync=OFF").ok());
  ASSERT_TRUE(cluster.wait_for_writer(1, failover_limit)) << cluster.status();
  EXPECT_EQ(value(cluster.proxy_sql("SELECT @@wsrep_node_name")), "node1");
}

TEST(GaleraCluster, ANodeWhoseDataIsLostRejoinsByAFullStateTransfer) {
  galera_cluster cluster{options()};
  ASSERT_TRUE(cluster.ok()) << cluster.output();
  ASSERT_TRUE(cluster
                  .proxy_sql("CREATE TABLE t (id INT PRIMARY KEY);"
                             "INSERT INTO t VALUES (1), (2), (3)")
                  .ok());
  ASSERT_TRUE(cluster.kill(3)) << cluster.output();
  ASSERT_TRUE(cluster.proxy_sql("INSERT INTO t VALUES (4)").ok());
  ASSERT_TRUE(cluster.restart(3, /*wipe=*/true)) << cluster.output();
  EXPECT_EQ(value(cluster.root_sql(3,
                                   "SET SESSION wsrep_sync_wait=1;"
                                   "SELECT COUNT(*) FROM autobuild.t")),
            "4");
  EXPECT_TRUE(wait_for_state(cluster, 3, "UP")) << cluster.status();
}

}  // namespace
}  // namespace ab::harness
