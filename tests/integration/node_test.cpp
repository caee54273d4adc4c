// Several ab-node processes on one site database: chains run in order across nodes, a killed
// node's work is finished by the others, SIGTERM drains, a cluster-map edit moves a node.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/attempts_log.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/sim_node_args.hpp"
#include "tests/fakes/test_cert.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

/// The current test's name, usable as a file name.
std::string test_name() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (auto& ch : name)
    if (ch == '/') ch = '_';
  return name;
}

/// `curl`'s answer to `GET https://127.0.0.1:PORT/PATH`, verifying the server against
/// `ca_file`, as "STATUS BODY"; curl's complaint instead if the call failed.
std::string https_get(int port, const std::string& path, const std::string& ca_file) {
  auto command = "curl -sS --max-time 30 --cacert '" + ca_file +
                 "' -w ' %{http_code}' https://127.0.0.1:" + std::to_string(port) + path + " 2>&1";
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    pclose(pipe);
  }
  // curl wrote "BODY STATUS".
  auto sp = out.rfind(' ');
  if (sp == std::string::npos) return out;
  return out.substr(sp + 1) + " " + out.substr(0, sp);
}

class NodeProcesses : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ab_nodes_" + std::to_string(getpid()) + "_" + test_name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = std::make_unique<scratch_store>(GetParam(), clk_);
    ASSERT_FALSE(HasFailure());
  }
  void TearDown() override {
    nodes_.clear();
    db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  harness::server_process& start_node(const std::string& id, std::vector<std::string> extra = {}) {
    nodes_.push_back(std::make_unique<harness::server_process>(
        AB_NODE_BIN, node_args(id, std::move(extra)), (dir_ / (id + ".out")).string()));
    EXPECT_TRUE(nodes_.back()->ok()) << nodes_.back()->output();
    return *nodes_.back();
  }

  /// The command line of node `id`: the test store, simulated handlers, short intervals.
  std::vector<std::string> node_args(const std::string& id, std::vector<std::string> extra) {
    auto args = simulated_node_args(db_->url(), id);
    auto work = sim_work_args({.sim_log = (dir_ / "attempts.log").string()});
    args.insert(args.end(), work.begin(), work.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::vector<storage::request_id> submit(int n, const std::vector<std::string>& chain,
                                          const std::string& action = "power_on",
                                          const std::string& prefix = "h") {
    std::vector<storage::request_spec> specs;
    for (int i = 0; i < n; ++i) {
      storage::request_spec s;
      s.action = action;
      s.host = prefix + std::to_string(i);
      s.site = "dc1";
      for (const auto& t : chain) s.chain.push_back({t, 5, 0});
      specs.push_back(std::move(s));
    }
    auto out = (*db_)->submit(specs);
    EXPECT_TRUE(out) << message_of(out.error());
    std::vector<storage::request_id> ids;
    if (out)
      for (const auto& o : *out) ids.push_back(o.id);
    return ids;
  }

  bool all_succeeded(const std::vector<storage::request_id>& ids) {
    for (auto id : ids) {
      auto r = (*db_)->request(id);
      if (!r || r->state != storage::request_state::succeeded) return false;
    }
    return true;
  }

  std::vector<attempt> attempts() const { return read_attempts(dir_ / "attempts.log"); }

  /// Every job of `ids` ran to its end exactly once, and each chain in order.
  void expect_once_and_in_order(const std::vector<storage::request_id>& ids) {
    std::map<storage::job_id, std::vector<attempt>> by_job;
    for (const auto& a : attempts()) by_job[a.job].push_back(a);
    for (auto id : ids) {
      auto r = (*db_)->request(id);
      ASSERT_TRUE(r);
      time_ms previous_end = 0;
      for (const auto& j : r->jobs) {
        ASSERT_EQ(by_job[j.id].size(), 1u)
            << "job " << j.id << " ran " << by_job[j.id].size() << " times";
        const auto& a = by_job[j.id].front();
        EXPECT_GE(a.start, previous_end)
            << "job " << j.id << " started before its predecessor ended";
        previous_end = a.end;
      }
    }
  }

  std::shared_ptr<system_clock> clk_ = std::make_shared<system_clock>();
  std::filesystem::path dir_;
  std::unique_ptr<scratch_store> db_;
  std::vector<std::unique_ptr<harness::server_process>> nodes_;
};

}  // namespace

TEST_P(NodeProcesses, ANodeAnswersHealthRunsChainsAndDrainsOnSigterm) {
  auto& node = start_node("n1");
  EXPECT_EQ(http_get(node.port(), "/healthz").substr(0, 3), "200");
  auto info = http_get(node.port(), "/v1/node");
  EXPECT_NE(info.find(R"("node_id":"n1")"), std::string::npos) << info;
  EXPECT_EQ(http_get(node.port(), "/nowhere").substr(0, 3), "404");
  auto ids = submit(15, {"sim.step", "sim.noop", "sim.step"});
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(60)));
  expect_once_and_in_order(ids);
  auto registered = (*db_)->nodes();
  ASSERT_TRUE(registered);
  ASSERT_EQ(registered->size(), 1u);
  EXPECT_EQ(registered->at(0).id, "n1");
  EXPECT_EQ(registered->at(0).cluster, "all") << "without a map a node is in the one cluster";
  EXPECT_EQ(node.terminate(), 0) << node.output();
}

TEST_P(NodeProcesses, ChainsRunInOrderAcrossSeveralNodesAndEachJobOnce) {
  for (const auto* id : {"n1", "n2", "n3"}) start_node(id);
  auto ids = submit(45, {"sim.step", "sim.noop", "sim.step"});
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(90)));
  expect_once_and_in_order(ids);
  std::set<std::string> workers;
  for (const auto& a : attempts()) workers.insert(a.node);
  EXPECT_GE(workers.size(), 2u) << "the work was shared";
  for (auto& n : nodes_) EXPECT_EQ(n->terminate(), 0);
}

TEST_P(NodeProcesses, AKilledNodesRequestsAreFinishedByTheOthers) {
  auto& victim = start_node("victim");
  start_node("survivor");
  auto ids = submit(30, {"sim.step", "sim.step", "sim.step", "sim.step"});
  ASSERT_TRUE(wait_until([&] {
    int mine = 0;
    for (const auto& a : attempts()) mine += a.node == "victim";
    return mine >= 5;
  }));
  victim.kill();
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(90)));
  // Every job reached its end, each chain in order (a job the victim was in the middle of
  // may have run again, so "once" is not asked here).
  std::map<storage::job_id, time_ms> last_end;
  for (const auto& a : attempts()) last_end[a.job] = std::max(last_end[a.job], a.end);
  for (auto id : ids) {
    auto r = (*db_)->request(id);
    ASSERT_TRUE(r);
    for (const auto& j : r->jobs) EXPECT_TRUE(last_end.count(j.id)) << j.id;
  }
  for (auto& n : nodes_)
    if (n.get() != &victim) {
      EXPECT_EQ(n->terminate(), 0);
    }
}

TEST_P(NodeProcesses, SigtermFinishesRunningJobsAndReleasesTheRest) {
  auto& leaving = start_node("leaving", {"--sim-step-ms", "200", "--workers", R"({"default": 1})"});
  auto ids = submit(20, {"sim.step"});
  ASSERT_TRUE(wait_until([&] { return !attempts().empty(); }));
  auto& staying = start_node("staying", {"--workers", R"({"default": 1})"});
  EXPECT_EQ(leaving.terminate(), 0) << leaving.output();
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(90)));
  expect_once_and_in_order(ids);
  for (auto id : ids) EXPECT_EQ((*db_)->request(id)->jobs[0].attempts, 1) << "request " << id;
  EXPECT_EQ(staying.terminate(), 0);
}

TEST_P(NodeProcesses, AClusterMapEditMovesNodesWhileWorkFlows) {
  auto map_path = dir_ / "cluster-map.json";
  auto write_map = [&](const std::string& builder) {
    auto tmp = dir_ / "cluster-map.json.tmp";
    std::ofstream{tmp} << R"({"clusters": {"build": {"actions": ["reimage"]},)"
                       << R"( "others": {"actions": ["*"]}}, "nodes": {")" << builder
                       << R"(": "build"}, "default_cluster": "others"})";
    std::filesystem::rename(tmp, map_path);
  };
  write_map("n1");
  std::vector<std::string> extra{"--cluster-map", map_path.string(), "--map-check-interval-ms",
                                 "100"};
  auto& n1 = start_node("n1", extra);
  auto& n2 = start_node("n2", extra);
  auto reimages = submit(10, {"sim.step", "sim.step"}, "reimage", "r");
  auto powers = submit(10, {"sim.step", "sim.step"}, "power_on", "p");
  EXPECT_TRUE(wait_until([&] { return all_succeeded(reimages) && all_succeeded(powers); }));
  auto ran_on = [&](const std::vector<storage::request_id>& ids) {
    std::set<storage::job_id> jobs;
    for (auto id : ids) {
      auto r = (*db_)->request(id);
      if (r)
        for (const auto& j : r->jobs) jobs.insert(j.id);
    }
    std::set<std::string> nodes;
    for (const auto& a : attempts())
      if (jobs.count(a.job)) nodes.insert(a.node);
    return nodes;
  };
  EXPECT_EQ(ran_on(reimages), std::set<std::string>{"n1"});
  EXPECT_EQ(ran_on(powers), std::set<std::string>{"n2"});

  // Work keeps flowing while the map changes under it.
  auto during = submit(10, {"sim.step", "sim.step"}, "reimage", "d");
  write_map("n2");
  ASSERT_TRUE(wait_until([&] {
    return http_get(n1.port(), "/v1/node").find(R"("cluster":"others")") != std::string::npos &&
           http_get(n2.port(), "/v1/node").find(R"("cluster":"build")") != std::string::npos;
  }));
  auto reimages2 = submit(10, {"sim.step", "sim.step"}, "reimage", "r2-");
  auto powers2 = submit(10, {"sim.step", "sim.step"}, "power_on", "p2-");
  EXPECT_TRUE(wait_until(
      [&] { return all_succeeded(during) && all_succeeded(reimages2) && all_succeeded(powers2); }));
  EXPECT_EQ(ran_on(reimages2), std::set<std::string>{"n2"});
  EXPECT_EQ(ran_on(powers2), std::set<std::string>{"n1"});
  for (const auto* ids : {&reimages, &powers, &during, &reimages2, &powers2})
    expect_once_and_in_order(*ids);

  // A bad edit is refused and the last good map stays in force.
  { std::ofstream{map_path} << R"({"clusters": {}})"; }
  n1.signal(SIGHUP);
  auto after = submit(5, {"sim.noop"}, "reimage", "after");
  EXPECT_TRUE(wait_until([&] { return all_succeeded(after); }));
  EXPECT_EQ(ran_on(after), std::set<std::string>{"n2"});
  EXPECT_NE(n1.output().find("last good one stays in force"), std::string::npos);
  EXPECT_EQ(n1.terminate(), 0);
  EXPECT_EQ(n2.terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Mysql, NodeProcesses, ::testing::Values("mysql"));

/// The single-node deployment: the embedded SQLite store, no database server.
using EmbeddedNode = NodeProcesses;

TEST_P(EmbeddedNode, RunsChainsRecoversAFlakyStepAndDrains) {
  auto& node = start_node("solo");
  auto ids = submit(10, {"sim.step", "sim.flaky", "sim.noop"});
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(60)));
  for (auto id : ids) EXPECT_EQ((*db_)->request(id)->jobs[1].attempts, 2) << "request " << id;
  EXPECT_EQ(node.terminate(), 0) << node.output();
}

TEST_P(EmbeddedNode, ServesHttpsWithItsCertificateAndRefusesPlainHttp) {
  auto cert = make_test_cert(dir_);
  auto& node = start_node("secure", {"--tls-cert", cert.cert_file, "--tls-key", cert.key_file});
  ASSERT_TRUE(node.ok());
  EXPECT_NE(node.output().find("listening on https://127.0.0.1:"), std::string::npos);
  EXPECT_EQ(https_get(node.port(), "/healthz", cert.cert_file), R"(200 {"status":"ok"})");
  EXPECT_EQ(http_call(node.port(), "GET", "/healthz").status, 0);
  EXPECT_EQ(node.terminate(), 0) << node.output();
}

TEST_P(EmbeddedNode, RefusesToStartWithATlsKeyOthersCanRead) {
  auto cert = make_test_cert(dir_);
  std::filesystem::permissions(cert.key_file, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  harness::server_process node{AB_NODE_BIN,
                               {"--store", db_->url(), "--listen", "127.0.0.1:0", "--handlers",
                                "none", "--tls-cert", cert.cert_file, "--tls-key", cert.key_file},
                               (dir_ / "leaky.out").string()};
  EXPECT_FALSE(node.ok());
  EXPECT_NE(node.output().find(cert.key_file), std::string::npos) << node.output();
  EXPECT_NE(node.output().find("chmod 600"), std::string::npos) << node.output();
}

TEST_P(EmbeddedNode, ServesANewCertificateAfterSighupWithoutARestart) {
  auto cert = make_test_cert(dir_);
  // No watching of the files: only the signal can make the node see the new pair.
  auto& node = start_node("rotating", {"--tls-cert", cert.cert_file, "--tls-key", cert.key_file,
                                       "--tls-check-interval-ms", "0"});
  ASSERT_TRUE(node.ok());
  auto next = make_test_cert(dir_, "next");
  std::filesystem::copy_file(next.key_file, cert.key_file,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.cert_file, cert.cert_file,
                             std::filesystem::copy_options::overwrite_existing);
  node.signal(SIGHUP);
  EXPECT_TRUE(wait_until(
      [&] {
        return https_get(node.port(), "/healthz", next.cert_file) == R"(200 {"status":"ok"})";
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(node.terminate(), 0) << node.output();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, EmbeddedNode, ::testing::Values("sqlite"));

/// A node restarted under its id after a crash, on either backend.
using RestartedNode = NodeProcesses;

TEST_P(RestartedNode, WorkInFlightResumesWithinSecondsOfARestartUnderTheSameId) {
  // Leases of two minutes and steps of four seconds: before incarnations, the restarted node
  // renewed its dead predecessor's leases (same owner names) and the killed jobs never ran again.
  const std::vector<std::string> extra{
      "--sim-step-ms",       "4000", "--lease-ms", "120000",
      "--renew-interval-ms", "1000", "--workers",  R"({"default": 2})"};
  auto& first = start_node("n1", extra);
  auto ids = submit(4, {"sim.step", "sim.noop"});
  std::vector<storage::job_id> in_flight;
  ASSERT_TRUE(wait_until([&] {
    in_flight.clear();
    for (auto id : ids)
      if (auto r = (*db_)->request(id); r && r->jobs[0].state == storage::job_state::running)
        in_flight.push_back(r->jobs[0].id);
    return !in_flight.empty();
  }));
  first.kill();
  auto killed_at = clk_->now();
  auto& second = start_node("n1", extra);
  ASSERT_TRUE(second.ok());
  // Well under the two-minute lease: four steps of 4 s on two workers, plus a retry's backoff.
  EXPECT_TRUE(wait_until([&] { return all_succeeded(ids); }, std::chrono::seconds(60)))
      << second.output();
  EXPECT_LT(clk_->now() - killed_at, 120'000);
  for (auto id : ids) {
    auto r = (*db_)->request(id);
    ASSERT_TRUE(r);
    if (std::find(in_flight.begin(), in_flight.end(), r->jobs[0].id) != in_flight.end()) {
      EXPECT_EQ(r->jobs[0].attempts, 2) << "job " << r->jobs[0].id << " ran again once";
    }
  }
  EXPECT_NE(second.output().find("go to recovery now"), std::string::npos) << second.output();
  EXPECT_EQ(second.terminate(), 0) << second.output();
}

TEST_P(RestartedNode, ASecondLiveProcessWithTheSameIdRefusesToStart) {
  auto& first = start_node("n1");
  harness::server_process twin(AB_NODE_BIN, node_args("n1", {}), (dir_ / "twin.out").string());
  EXPECT_FALSE(twin.ok());
  EXPECT_EQ(twin.early_exit_code(), 3) << twin.output();
  EXPECT_NE(twin.output().find("in use by another live process"), std::string::npos)
      << twin.output();
  auto& other = start_node("n2");
  EXPECT_TRUE(other.ok()) << "another id starts beside it";
  EXPECT_EQ(http_get(first.port(), "/healthz").substr(0, 3), "200") << "the first one runs on";
  EXPECT_EQ(first.terminate(), 0);
  EXPECT_EQ(other.terminate(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, RestartedNode, ::testing::Values("sqlite", "mysql"));

}  // namespace ab::testing
