// Two ab-node processes with one node id, started at the same moment, each writing through a
// different Galera node (not through HAProxy, which would send both to one): the id's claim
// is a row that every Galera node sees, so one holds it and the other exits 3. GET_LOCK, the
// claim before it, is local to one Galera node: both would have started.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/galera_cluster.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/sim_node_args.hpp"

namespace ab::testing {

namespace {

std::vector<std::string> node_args(const std::string& store, const std::string& id) {
  auto args = simulated_node_args(store, id);
  args.insert(args.end(), {"--heartbeat-interval-ms", "1000"});
  return args;
}

}  // namespace

TEST(GaleraNodeClaim, TwoProcessesThroughTwoGaleraNodesCannotBothHoldOneNodeId) {
  harness::galera_options options;
  options.source_dir = AB_SOURCE_DIR;
  harness::galera_cluster cluster{options};
  ASSERT_TRUE(cluster.ok()) << cluster.output();
  auto dir = std::filesystem::path(cluster.dir()) / "nodes";
  std::filesystem::create_directories(dir);

  // Each start waits until its process listens or exits: both at once, from two threads.
  std::unique_ptr<harness::server_process> via[3];
  {
    std::vector<std::thread> starts;
    for (int n : {1, 2})
      starts.emplace_back([&, n] {
        via[n] = std::make_unique<harness::server_process>(
            AB_NODE_BIN, node_args(cluster.node_url(n), "n1"),
            (dir / ("via" + std::to_string(n) + ".out")).string());
      });
    for (auto& t : starts) t.join();
  }
  int running = via[1]->ok() + via[2]->ok();
  ASSERT_EQ(running, 1) << "node1's: " << via[1]->output() << "\nnode2's: " << via[2]->output();
  int holder = via[1]->ok() ? 1 : 2, other = 3 - holder;
  EXPECT_EQ(via[other]->early_exit_code(), 3) << via[other]->output();
  EXPECT_NE(via[other]->output().find("in use by another live process"), std::string::npos)
      << via[other]->output();

  // Every Galera node has the holder's claim, the third included.
  auto row = cluster.root_sql(3,
                              "SELECT COUNT(*) FROM autobuild.node_claims WHERE "
                              "node_id = 'n1' AND token <> 0");
  ASSERT_TRUE(row.ok()) << row.output;
  EXPECT_EQ(row.output.substr(0, 1), "1") << row.output;

  // Through the third node, the id is still taken; once its holder is killed, a process of
  // the same host takes it at once.
  harness::server_process third(AB_NODE_BIN, node_args(cluster.node_url(3), "n1"),
                                (dir / "via3.out").string());
  EXPECT_FALSE(third.ok());
  EXPECT_EQ(third.early_exit_code(), 3) << third.output();
  via[holder]->kill();
  harness::server_process restarted(AB_NODE_BIN, node_args(cluster.node_url(other), "n1"),
                                    (dir / "restarted.out").string());
  EXPECT_TRUE(restarted.ok()) << restarted.output();
  EXPECT_EQ(restarted.terminate(), 0) << restarted.output();
  EXPECT_TRUE(cluster.stop());
}

}  // namespace ab::testing
