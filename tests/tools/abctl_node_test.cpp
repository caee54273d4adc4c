// abctl, the binary, against a real ab-node (SQLite store, simulated job handlers): register,
// submit, watch, status, list, cancel, and failover from a dead router URL to the node.

#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/child_process.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/test_cert.hpp"

namespace ab::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// What one run of the abctl binary printed and returned.
struct cli_result {
  int code = -1;
  std::string out, err;
};

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

class AbctlNode : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("abctl-node-");
    // The hosts' credential, in the node's environment (it inherits this process's).
    ::setenv("AB_BMC_SIM", "admin:password", 1);
    node_ = std::make_unique<harness::server_process>(
        AB_NODE_BIN,
        std::vector<std::string>{"--node-id",
                                 "n1",
                                 "--site",
                                 "dc1",
                                 "--listen",
                                 "127.0.0.1:0",
                                 "--store",
                                 "sqlite:" + (dir_ / "ab.db").string(),
                                 "--handlers",
                                 "simulated",
                                 "--sim-step-ms",
                                 "50",
                                 "--bmc-allow-loopback",
                                 "1",
                                 "--poll-interval-ms",
                                 "20",
                                 "--idle-poll-max-ms",
                                 "100",
                                 "--heartbeat-interval-ms",
                                 "500"},
        (dir_ / "node.log").string());
    ASSERT_TRUE(node_->ok()) << node_->output();
    url_ = "http://127.0.0.1:" + std::to_string(node_->port());
  }

  void TearDown() override {
    if (node_) node_->stop();
  }

  /// Runs `abctl args...` (with `env` before it, e.g. `AB_ROUTERS=...`), at most 60 s.
  cli_result abctl(const std::vector<std::string>& args, const std::string& env = "") {
    auto n = std::to_string(++runs_);
    auto out = dir_ / ("abctl-" + n + ".out"), err = dir_ / ("abctl-" + n + ".err");
    std::string cmd = "exec env HOME=" + quoted(dir_.string()) + " " + env + " " + AB_ABCTL_BIN;
    for (const auto& a : args) cmd += " " + quoted(a);
    cmd += " >" + quoted(out.string()) + " 2>" + quoted(err.string()) + " </dev/null";
    auto pid = harness::spawn_child({"/bin/sh", "-c", cmd}, (dir_ / "sh.log").string());
    cli_result r;
    r.code = harness::wait_exit(pid, std::chrono::seconds(60));
    r.out = harness::read_text(out.string());
    r.err = harness::read_text(err.string());
    return r;
  }

  /// `abctl --router NODE args...`.
  cli_result on_node(std::vector<std::string> args) {
    args.insert(args.begin(), {"--router", url_});
    return abctl(args);
  }

  void register_hosts(int n) {
    json hosts = json::array();
    for (int i = 1; i <= n; ++i)
      hosts.push_back({{"name", "h" + std::to_string(i)},
                       {"site", "dc1"},
                       {"bmc_endpoint", "http://127.0.0.1:9/bmc/h" + std::to_string(i)},
                       {"credential_ref", "env:AB_BMC_SIM"}});
    std::ofstream(dir_ / "hosts.json") << hosts.dump();
    auto r = on_node({"hosts", "register", "--file", (dir_ / "hosts.json").string()});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("registered " + std::to_string(n)), std::string::npos) << r.out;
  }

  fs::path dir_;
  std::unique_ptr<harness::server_process> node_;
  std::string url_;
  int runs_ = 0;
};

TEST_F(AbctlNode, RegisterSubmitWatchStatusAndListAgainstARealNode) {
  register_hosts(3);
  auto hosts = on_node({"-o", "json", "hosts", "list"});
  ASSERT_EQ(hosts.code, 0) << hosts.err;
  EXPECT_EQ(json::parse(hosts.out)["hosts"].size(), 3u);
  auto show = on_node({"hosts", "show", "h2"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("http://127.0.0.1:9/bmc/h2"), std::string::npos) << show.out;

  // A bulk submission; its JSON output is the batch that watch follows.
  auto sub = on_node({"-o", "json", "submit", "sim.chain", "h1", "h2", "--priority", "maas"});
  ASSERT_EQ(sub.code, 0) << sub.out << sub.err;
  std::ofstream(dir_ / "batch.json") << sub.out;
  auto batch = json::parse(sub.out);
  ASSERT_EQ(batch["requests"].size(), 2u);
  EXPECT_EQ(batch["idempotency_key"].get<std::string>().rfind("abctl-", 0), 0u);
  auto watch = on_node({"watch", "--batch", (dir_ / "batch.json").string(), "--interval", "0.1",
                        "--max-wait", "50"});
  EXPECT_EQ(watch.code, 0) << watch.out << watch.err;
  EXPECT_NE(watch.out.find("watch: 2/2 ended: 2 succeeded"), std::string::npos) << watch.out;

  auto id = std::to_string(batch["requests"][0]["id"].get<std::int64_t>());
  auto status = on_node({"-o", "json", "status", id});
  ASSERT_EQ(status.code, 0) << status.err;
  auto r = json::parse(status.out)["requests"][0];
  EXPECT_EQ(r["state"], "succeeded");
  EXPECT_EQ(r["priority"], "maas");
  EXPECT_EQ(r["jobs"].size(), 3u);
  auto table = on_node({"status", id});
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("sim.noop"), std::string::npos) << table.out;

  auto list = on_node({"-o", "json", "list", "--state", "succeeded", "--host", "h1"});
  ASSERT_EQ(list.code, 0) << list.err;
  auto items = json::parse(list.out)["requests"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["host"], "h1");
  auto paged = on_node({"-o", "json", "list", "--limit", "1", "--all"});
  ASSERT_EQ(paged.code, 0) << paged.err;
  EXPECT_EQ(json::parse(paged.out)["requests"].size(), 2u) << "every page, one by one";
}

TEST_F(AbctlNode, ADeadRouterIsSkippedAndARepeatedKeyCreatesNothing) {
  register_hosts(1);
  auto dead = "http://127.0.0.1:" + std::to_string(harness::free_port(SOCK_STREAM));
  auto first = abctl({"-o", "json", "submit", "sim.chain", "h1", "--idempotency-key", "k-7"},
                     "AB_ROUTERS=" + dead + "," + url_);
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_NE(first.err.find("trying " + url_), std::string::npos) << first.err;
  auto again = abctl({"--router", dead, "--router", url_, "-o", "json", "submit", "sim.chain", "h1",
                      "--idempotency-key", "k-7"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["requests"][0]["id"],
            json::parse(first.out)["requests"][0]["id"]);
  auto list = on_node({"-o", "json", "list"});
  EXPECT_EQ(json::parse(list.out)["requests"].size(), 1u);
  auto watch = abctl({"--router", dead, "--router", url_, "watch", "--interval", "0.1",
                      json::parse(first.out)["requests"][0]["id"].dump()});
  EXPECT_EQ(watch.code, 0) << watch.out << watch.err;
}

TEST_F(AbctlNode, CancelEndsAWaitingRequestAndWatchSaysItDidNotSucceed) {
  register_hosts(1);
  auto sub = on_node({"-o", "json", "submit", "sim.wait", "h1"});
  ASSERT_EQ(sub.code, 0) << sub.err;
  auto id = std::to_string(json::parse(sub.out)["requests"][0]["id"].get<std::int64_t>());
  auto gave_up = on_node({"watch", id, "--interval", "0.1", "--max-wait", "0.5"});
  EXPECT_EQ(gave_up.code, 7) << gave_up.out << gave_up.err;
  auto cancel = on_node({"cancel", id});
  ASSERT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_NE(cancel.out.find("cancelled"), std::string::npos) << cancel.out;
  EXPECT_NE(cancel.out.find(id), std::string::npos) << cancel.out;
  auto watch = on_node({"-o", "json", "watch", id, "--interval", "0.1"});
  EXPECT_EQ(watch.code, 1) << watch.out << watch.err;
  EXPECT_EQ(json::parse(watch.out)["cancelled"], 1);
  auto twice = on_node({"cancel", id});
  EXPECT_EQ(twice.code, 1) << "a finished request cannot be cancelled: " << twice.err;
}

TEST_F(AbctlNode, ExitCodesForWhatDoesNotExistOrIsRefused) {
  register_hosts(1);
  EXPECT_EQ(on_node({"status", "424242"}).code, 3);
  EXPECT_EQ(on_node({"hosts", "show", "nope"}).code, 3);
  auto unknown = on_node({"submit", "sim.chain", "nope"});
  EXPECT_EQ(unknown.code, 3) << unknown.err;
  EXPECT_NE(unknown.err.find("unknown_host"), std::string::npos) << unknown.err;
  auto bad = on_node({"submit", "frobnicate", "h1"});
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_EQ(on_node({"submit", "sim.chain", "h1", "--token", "x"}).code, 2);
  auto dead = "http://127.0.0.1:" + std::to_string(harness::free_port(SOCK_STREAM));
  EXPECT_EQ(abctl({"--router", dead, "--retries", "0", "list"}).code, 5);
}

}  // namespace
}  // namespace ab::testing

namespace ab::testing {
namespace {

TEST(AbctlTls, AnHttpsNodeIsTrustedThroughTheCaFileOnly) {
  auto dir = scratch_dir("abctl-tls-");
  auto cert = make_test_cert(dir, "node");
  auto other = make_test_cert(dir, "other");
  harness::server_process node{AB_NODE_BIN,
                               {"--node-id", "n1", "--site", "dc1", "--listen", "127.0.0.1:0",
                                "--store", "sqlite:" + (dir / "ab.db").string(), "--handlers",
                                "none", "--tls-cert", cert.cert_file, "--tls-key", cert.key_file},
                               (dir / "node.log").string()};
  ASSERT_TRUE(node.ok()) << node.output();
  auto url = "https://127.0.0.1:" + std::to_string(node.port());
  auto run = [&](const std::vector<std::string>& args) {
    std::string cmd = std::string{"exec "} + AB_ABCTL_BIN;
    for (const auto& a : args) cmd += " " + quoted(a);
    cmd += " >>" + quoted((dir / "abctl.log").string()) + " 2>&1 </dev/null";
    auto pid = harness::spawn_child({"/bin/sh", "-c", cmd}, (dir / "sh.log").string());
    return harness::wait_exit(pid, std::chrono::seconds(60));
  };
  EXPECT_EQ(run({"--router", url, "--ca-file", cert.cert_file, "list"}), 0)
      << harness::read_text((dir / "abctl.log").string());
  EXPECT_EQ(run({"--router", url, "--ca-file", other.cert_file, "--retries", "0", "list"}), 5)
      << "a certificate the CA file does not vouch for is refused";
  EXPECT_EQ(run({"--router", url, "--retries", "0", "list"}), 5)
      << "a self-signed certificate is not trusted by default";
  node.stop();
}

}  // namespace
}  // namespace ab::testing

namespace ab::testing {
namespace {

TEST_F(AbctlNode, HoldAndPauseAreAddedListedLiftedAndResumed) {
  register_hosts(2);
  auto add = on_node({"hold", "add", "h1", "h2", "--reason", "disk swap"});
  ASSERT_EQ(add.code, 0) << add.out << add.err;
  EXPECT_NE(add.out.find("disk swap"), std::string::npos) << add.out;
  // A host already held is refused (exit 1) and named.
  auto again = on_node({"hold", "add", "h1", "--reason", "other"});
  EXPECT_EQ(again.code, 1) << again.out << again.err;
  EXPECT_NE(again.err.find("h1"), std::string::npos) << again.err;
  auto list = on_node({"-o", "json", "hold", "list", "--all"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out)["holds"].size(), 2u) << list.out;
  auto refused = on_node({"submit", "sim.chain", "h1"});
  EXPECT_NE(refused.code, 0);
  EXPECT_NE((refused.out + refused.err).find("disk swap"), std::string::npos)
      << refused.out << refused.err;
  EXPECT_EQ(on_node({"hold", "lift", "h1", "h2", "--note", "done"}).code, 0);
  EXPECT_EQ(json::parse(on_node({"-o", "json", "hold", "list"}).out)["holds"].size(), 0u);

  auto pause = on_node({"pause", "add", "action", "sim.chain", "--reason", "bad image"});
  ASSERT_EQ(pause.code, 0) << pause.out << pause.err;
  auto pauses = on_node({"pause", "list"});
  EXPECT_NE(pauses.out.find("bad image"), std::string::npos) << pauses.out;
  EXPECT_EQ(on_node({"pause", "add", "rack", "r1", "--reason", "x"}).code, 2);
  EXPECT_EQ(on_node({"pause", "resume", "action", "sim.chain"}).code, 0);
  EXPECT_EQ(on_node({"pause", "resume", "action", "sim.chain"}).code, 3);
}

}  // namespace
}  // namespace ab::testing
