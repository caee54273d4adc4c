// Two ab-node processes on a site database that is a 3-node Galera cluster behind HAProxy:
// work flows while the writer database node is SIGKILLed, and again once it has rejoined.
// Every accepted request reaches its end, no job runs twice at the same time, no host has two
// active requests, and the killed nodes rejoin.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "harness/galera_cluster.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/attempts_log.hpp"
#include "tests/fakes/sim_node_args.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

storage::request_spec three_steps(const std::string& host) {
  storage::request_spec s;
  s.action = "power_on";
  s.host = host;
  s.site = "dc1";
  s.submitter = "failover-test";
  for (int i = 0; i < 3; ++i) s.chain.push_back({"sim.step", 5, 0});
  return s;
}

}  // namespace

TEST(GaleraFailover, WorkFlowsThroughTwoNodesWhileTheWriterDiesTwice) {
  harness::galera_options options;
  options.source_dir = AB_SOURCE_DIR;
  harness::galera_cluster cluster{options};
  ASSERT_TRUE(cluster.ok()) << cluster.output();
  // The test's own store (the submitting client) and the nodes go through HAProxy.
  ::setenv("AB_MYSQL_URL", cluster.url().c_str(), 1);
  auto clk = std::make_shared<system_clock>();
  auto scratch = std::make_unique<scratch_store>("mysql", clk);
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto& db = *scratch;

  auto dir = std::filesystem::path(cluster.dir()) / "nodes";
  std::filesystem::create_directories(dir);
  auto log = dir / "attempts.log";
  std::vector<std::unique_ptr<harness::server_process>> nodes;
  for (const auto* id : {"n1", "n2"}) {
    // Leases outlast a failover's stall (failure detection, HAProxy's checks, retries).
    auto args = simulated_node_args(db.url(), id);
    auto work = sim_work_args({.sim_log = log.string(),
                               .step_ms = 40,
                               .lease_ms = 20000,
                               .renew_interval_ms = 1000,
                               .recovery_interval_ms = 500,
                               .heartbeat_interval_ms = 1000,
                               .claim_batch = 2});
    args.insert(args.end(), work.begin(), work.end());
    nodes.push_back(std::make_unique<harness::server_process>(
        AB_NODE_BIN, args, (dir / (std::string{id} + ".out")).string()));
    ASSERT_TRUE(nodes.back()->ok()) << nodes.back()->output();
  }

  // A client submits all along: a request is accepted when the store answered `created`.
  std::mutex accepted_mutex;
  std::vector<storage::request_id> accepted;
  std::atomic<bool> submitting{true};
  std::thread client;
  // Stops the client also when an assertion ends the test early.
  struct stop_client {
    std::atomic<bool>& flag;
    std::thread& t;
    ~stop_client() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } stopper{submitting, client};
  client = std::thread{[&] {
    for (int round = 0; submitting; ++round) {
      for (int h = 0; h < 12 && submitting; ++h) {
        auto out = db->submit({three_steps("h" + std::to_string(h))});
        if (out && out->at(0).what == storage::submit_outcome::status::created) {
          std::lock_guard<std::mutex> guard{accepted_mutex};
          accepted.push_back(out->at(0).id);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }};
  auto finished_steps = [&] { return read_attempts(log).size(); };
  auto progress_after = [&](std::size_t seen) {
    return wait_until([&] { return finished_steps() >= seen + 20; }, std::chrono::seconds(90));
  };

  ASSERT_TRUE(progress_after(0)) << nodes[0]->output();
  std::vector<int> killed;
  for (int round = 0; round < 2; ++round) {
    // Mid-run: the node HAProxy writes to dies, the work goes on through the next.
    auto writer = cluster.writer();
    ASSERT_GE(writer, 1) << cluster.status();
    auto seen = finished_steps();
    ASSERT_TRUE(cluster.kill(writer));
    killed.push_back(writer);
    EXPECT_TRUE(progress_after(seen)) << "no progress after node " << writer << " died\n"
                                      << cluster.status() << nodes[0]->output();
    // And it rejoins.
    EXPECT_TRUE(cluster.restart(writer)) << cluster.output();
    EXPECT_TRUE(progress_after(finished_steps())) << cluster.status();
  }
  submitting = false;
  if (client.joinable()) client.join();

  // Every accepted request reaches its end.
  std::vector<storage::request_id> ids;
  {
    std::lock_guard<std::mutex> guard{accepted_mutex};
    ids = accepted;
  }
  ASSERT_FALSE(ids.empty());
  auto all_done = [&] {
    for (auto id : ids) {
      auto r = db->request(id);
      if (!r || r->state != storage::request_state::succeeded) return false;
    }
    return true;
  };
  EXPECT_TRUE(wait_until(all_done, std::chrono::seconds(120)));
  std::map<storage::job_id, storage::request_id> request_of;
  std::map<storage::request_id, std::string> host_of;
  for (auto id : ids) {
    auto r = db->request(id);
    ASSERT_TRUE(r) << message_of(r.error());
    EXPECT_EQ(r->state, storage::request_state::succeeded) << "request " << id;
    host_of[id] = r->host;
    for (const auto& j : r->jobs) request_of[j.id] = id;
  }

  // No job ran twice at the same time; no host had two requests running at once.
  auto attempts = read_attempts(log);
  std::map<storage::job_id, std::vector<attempt>> by_job;
  std::map<storage::request_id, std::pair<time_ms, time_ms>> span;
  for (const auto& a : attempts) {
    by_job[a.job].push_back(a);
    auto it = request_of.find(a.job);
    if (it == request_of.end()) continue;
    auto [s, inserted] = span.emplace(it->second, std::make_pair(a.start, a.end));
    if (!inserted)
      s->second = {std::min(s->second.first, a.start), std::max(s->second.second, a.end)};
  }
  for (auto& [job, runs] : by_job) {
    std::sort(runs.begin(), runs.end(),
              [](const auto& x, const auto& y) { return x.start < y.start; });
    for (std::size_t i = 1; i < runs.size(); ++i)
      EXPECT_GE(runs[i].start, runs[i - 1].end) << "job " << job << " ran on " << runs[i - 1].node
                                                << " and " << runs[i].node << " at the same time";
  }
  std::map<std::string, std::vector<std::pair<time_ms, time_ms>>> by_host;
  for (const auto& [id, s] : span) by_host[host_of[id]].push_back(s);
  for (auto& [host, spans] : by_host) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i)
      EXPECT_GE(spans[i].first, spans[i - 1].second)
          << "host " << host << " had two active requests";
  }

  // The killed nodes are back in the cluster.
  auto status = cluster.status();
  for (int n : killed)
    EXPECT_NE(status.find("node" + std::to_string(n)), std::string::npos) << status;
  EXPECT_EQ(std::count(status.begin(), status.end(), '\n') > 0, true);
  for (auto& n : nodes) EXPECT_EQ(n->terminate(), 0) << n->output();
  nodes.clear();
  scratch.reset();  // drops its database while the cluster runs
  EXPECT_TRUE(cluster.stop());
}

}  // namespace ab::testing
