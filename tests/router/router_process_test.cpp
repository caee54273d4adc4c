// ab-router in front of real ab-node processes of two sites (SQLite: two nodes share dc1's
// database, one node serves dc2's): calls land on a node of the host's site, a killed node is
// skipped at once on refusal and after staleness, a restarted node is used again, overload is
// 429, and a call lost after the node took it tells the idempotency key to retry with.
// Heartbeats are sent by the test itself, signed with the deployment's secret.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/heartbeat.hpp"
#include "core/clock.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

constexpr const char* secret = "router-test-secret";

class RouterProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_router_");
    { std::ofstream{dir_ / "hb.secret"} << secret << "\n"; }
    ::chmod((dir_ / "hb.secret").c_str(), 0600);
    ::setenv("AB_BMC_ROUTER", "admin:password", 1);
    router_ = std::make_unique<harness::server_process>(
        AB_ROUTER_BIN,
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--heartbeat-secret-file",
                                 (dir_ / "hb.secret").string(), "--freshness-ms", "1500",
                                 "--set-aside-ms", "600000", "--request-timeout-ms", "1500"},
        (dir_ / "router.log").string());
    ASSERT_TRUE(router_->ok()) << router_->output();
    start_node("n1", "dc1", 0);
    start_node("n2", "dc1", 0);
    start_node("n3", "dc2", 1);
    beater_ = std::thread([this] {
      while (!stop_) {
        {
          std::lock_guard<std::mutex> guard{mutex_};
          for (const auto& [id, n] : nodes_)
            if (n.beating) send_beat(n);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
    ASSERT_TRUE(wait_until([&] { return live_nodes() == 3; })) << call("GET", "/v1/cluster").body;
  }
  void TearDown() override {
    stop_ = true;
    if (beater_.joinable()) beater_.join();
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& [id, n] : nodes_)
      if (n.process) n.process->kill();
    if (router_) EXPECT_EQ(router_->terminate(), 0) << router_->output();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  struct node {
    std::string id, site;
    std::int64_t site_id = 0;
    std::unique_ptr<harness::server_process> process;
    int port = 0;
    bool beating = true;
  };

  void start_node(const std::string& id, const std::string& site, std::int64_t site_id) {
    auto p = std::make_unique<harness::server_process>(
        AB_NODE_BIN,
        std::vector<std::string>{"--node-id", id, "--site", site, "--listen", "127.0.0.1:0",
                                 "--store", "sqlite:" + (dir_ / (site + ".db")).string(),
                                 "--handlers", "none"},
        (dir_ / (id + ".log")).string());
    ASSERT_TRUE(p->ok()) << p->output();
    std::lock_guard<std::mutex> guard{mutex_};
    auto& n = nodes_[id];
    n.id = id;
    n.site = site;
    n.site_id = site_id;
    n.port = p->port();
    n.process = std::move(p);
    n.beating = true;
    send_beat(n);
  }

  /// A heartbeat as the node's sender would send it.
  int send_beat(const node& n) {
    cluster::heartbeat hb;
    hb.node_id = n.id;
    hb.site = n.site;
    hb.site_id = n.site_id;
    hb.cluster = "all";
    hb.api_url = "http://127.0.0.1:" + std::to_string(n.port);
    hb.version = "test";
    hb.sent_at_ms = system_clock{}.now() + (++sequence_ % 1000) / 1000;
    // Strictly newer than the last one of the node, even within one millisecond.
    hb.sent_at_ms = std::max(hb.sent_at_ms, last_sent_ + 1);
    last_sent_ = hb.sent_at_ms;
    auto body = cluster::encode(hb);
    return http_call(router_->port(), "POST", "/v1/heartbeats", body,
                     "Content-Type: application/json\r\nX-AB-Signature: " +
                         cluster::sign(body, hb.sent_at_ms, secret_) + "\r\n")
        .status;
  }

  void set_beating(const std::string& id, bool on) {
    std::lock_guard<std::mutex> guard{mutex_};
    nodes_[id].beating = on;
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(router_->port(), method, path, body, headers);
  }
  http_answer direct(const std::string& id, const std::string& method, const std::string& path) {
    int port = 0;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      port = nodes_[id].port;
    }
    return http_call(port, method, path);
  }

  /// The node `id` as `GET /v1/cluster` shows it.
  json node_view(const std::string& id) {
    auto doc = json::parse(call("GET", "/v1/cluster").body, nullptr, false);
    if (!doc.is_object()) return {};
    for (const auto& site : doc["sites"])
      for (const auto& [cluster, nodes] : site["clusters"].items())
        for (const auto& n : nodes)
          if (n["node_id"] == id) return n;
    return {};
  }
  int live_nodes() {
    auto doc = json::parse(call("GET", "/v1/cluster").body, nullptr, false);
    int n = 0;
    if (doc.is_object())
      for (const auto& site : doc["sites"]) n += site["live_nodes"].get<int>();
    return n;
  }

  void register_hosts() {
    auto r = call("POST", "/v1/hosts",
                  R"({"hosts":[
                    {"name":"a1","site":"dc1","bmc_endpoint":"https://192.0.2.11","credential_ref":"env:AB_BMC_ROUTER"},
                    {"name":"a2","site":"dc1","bmc_endpoint":"https://192.0.2.12","credential_ref":"env:AB_BMC_ROUTER"},
                    {"name":"b1","site":"dc2","bmc_endpoint":"https://192.0.2.21","credential_ref":"env:AB_BMC_ROUTER"},
                    {"name":"b2","site":"dc2","bmc_endpoint":"https://192.0.2.22","credential_ref":"env:AB_BMC_ROUTER"}]})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json::parse(r.body)["sites"].size(), 2u) << r.body;
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> router_;
  std::mutex mutex_;
  std::map<std::string, node> nodes_;
  std::thread beater_;
  std::atomic<bool> stop_{false};
  std::int64_t sequence_ = 0;
  std::int64_t last_sent_ = 0;
  /// The secret heartbeats are signed with (under `mutex_`).
  std::string secret_ = secret;
};

TEST_F(RouterProcess, SighupRereadsTheHeartbeatSecretAndAnUnusableFileKeepsTheOldOne) {
  auto file = dir_ / "hb.secret";
  {
    std::lock_guard<std::mutex> guard{mutex_};
    { std::ofstream{file} << "rotated-secret\n"; }
    secret_ = "rotated-secret";
  }
  router_->signal(SIGHUP);
  // Heartbeats signed with the new secret are taken once the router has reread the file.
  auto beat = [&] {
    std::lock_guard<std::mutex> guard{mutex_};
    return send_beat(nodes_["n1"]);
  };
  ASSERT_TRUE(wait_until([&] { return beat() == 204; })) << router_->output();
  {
    std::lock_guard<std::mutex> guard{mutex_};
    secret_ = secret;
    EXPECT_EQ(send_beat(nodes_["n1"]), 401) << "the old secret is no longer valid";
    // A file others may read is refused: the rotated secret stays in use.
    { std::ofstream{file} << "leaked-secret\n"; }
    ::chmod(file.c_str(), 0644);
    secret_ = "rotated-secret";
  }
  router_->signal(SIGHUP);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(beat(), 204);
}

TEST_F(RouterProcess, CallsLandOnANodeOfTheSiteTheirHostIsIn) {
  register_hosts();
  // Each site's database holds its own hosts only.
  EXPECT_EQ(direct("n1", "GET", "/v1/hosts/a1").status, 200);
  EXPECT_EQ(direct("n2", "GET", "/v1/hosts/a2").status, 200);
  EXPECT_EQ(direct("n3", "GET", "/v1/hosts/a1").status, 404);
  EXPECT_EQ(direct("n3", "GET", "/v1/hosts/b1").status, 200);
  EXPECT_EQ(direct("n1", "GET", "/v1/hosts/b1").status, 404);

  // The inventory says where each host is; the router asks with the caller's credentials.
  auto one = call("GET", "/v1/hosts/b2");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(json::parse(one.body)["site"], "dc2");

  // A bulk submission spanning both sites: each site gets its part.
  auto r = call("POST", "/v1/requests", R"({"action":"discover","hosts":["a1","b1","a2"]})",
                "Idempotency-Key: bulk-1\r\n");
  ASSERT_EQ(r.status, 202) << r.body;
  auto doc = json::parse(r.body);
  ASSERT_EQ(doc["requests"].size(), 3u) << r.body;
  EXPECT_EQ(doc["requests"][0]["site"], "dc1");
  EXPECT_EQ(doc["requests"][1]["site"], "dc2");
  EXPECT_EQ(doc["requests"][2]["site"], "dc1");
  for (const auto& e : doc["requests"]) EXPECT_EQ(e["status"], "accepted") << r.body;
  auto b1_id = doc["requests"][1]["id"].get<std::int64_t>();
  auto b1_at_dc2 = json::parse(direct("n3", "GET", "/v1/requests/" + std::to_string(b1_id)).body);
  EXPECT_EQ(b1_at_dc2["host"], "b1");
  // The same call again with the same key: nothing new in either site.
  auto again = call("POST", "/v1/requests", R"({"action":"discover","hosts":["a1","b1","a2"]})",
                    "Idempotency-Key: bulk-1\r\n");
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(json::parse(again.body)["requests"], doc["requests"]);

  // A request id leads to its site (dc1's site id is 0).
  auto a1_id = std::to_string(doc["requests"][0]["id"].get<std::int64_t>());
  auto got = call("GET", "/v1/requests/" + a1_id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body)["host"], "a1");
  auto cancelled = call("POST", "/v1/requests/" + a1_id + "/cancel");
  EXPECT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(call("GET", "/v1/requests/5000000000001").status, 404) << "no site has site id 5";

  // An explicit site wins; a single host goes to its site; a submission without a key gets
  // one from the router, shown in the answer.
  auto single = call("POST", "/v1/requests", R"({"action":"discover","host":"b2"})");
  ASSERT_EQ(single.status, 202) << single.body;
  EXPECT_NE(single.headers.find("Idempotency-Key: router-"), std::string::npos) << single.headers;
  auto b2_id = json::parse(single.body)["requests"][0]["id"].get<std::int64_t>();
  EXPECT_EQ(json::parse(direct("n3", "GET", "/v1/requests/" + std::to_string(b2_id)).body)["host"],
            "b2");

  // Unknown hosts get the node's answers, never a guess.
  auto unknown = call("POST", "/v1/requests", R"({"action":"discover","hosts":["a1","zz"]})");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "unknown_host");
  EXPECT_EQ(call("GET", "/v1/hosts/zz").status, 404);
  // Lists need a site when there are several.
  EXPECT_EQ(call("GET", "/v1/requests").status, 400);
  auto listed = call("GET", "/v1/requests?site=dc2");
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto listed_json = json::parse(listed.body);
  for (const auto& e : listed_json["requests"]) EXPECT_EQ(e["site"], "dc2");
}

TEST_F(RouterProcess, AKilledNodeIsSkippedAtOnceAStaleOneIsNotUsedAndARestartedOneIsUsedAgain) {
  register_hosts();
  // n1 dies: its heartbeats stop, and its port refuses at once.
  set_beating("n1", false);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    nodes_["n1"].process->kill();
  }
  for (int i = 0; i < 10; ++i) {
    auto r = call("GET", "/v1/hosts/a1?site=dc1");
    ASSERT_EQ(r.status, 200) << "call " << i << ": " << r.body;
  }
  auto n1 = node_view("n1");
  EXPECT_GE(n1["refusals"].get<int>(), 1) << n1;
  EXPECT_EQ(n1["health"], "set_aside");

  // n1 comes back on another port and announces itself: it is used again.
  start_node("n1", "dc1", 0);
  ASSERT_TRUE(wait_until([&] { return node_view("n1")["health"] == "fresh"; }));

  // n2 goes quiet: once its heartbeat is older than the window, no call goes to it (it is
  // killed too, so a call that went to it would count a refusal).
  set_beating("n2", false);
  ASSERT_TRUE(wait_until([&] { return node_view("n2")["health"] == "stale"; }));
  auto n1_refusals = node_view("n1")["refusals"];
  {
    std::lock_guard<std::mutex> guard{mutex_};
    nodes_["n2"].process->kill();
  }
  for (int i = 0; i < 10; ++i) {
    auto r = call("POST", "/v1/requests", R"({"action":"discover","host":"a2"})",
                  "Idempotency-Key: a2-once\r\n");
    ASSERT_EQ(r.status, 202) << "call " << i << ": " << r.body;
  }
  EXPECT_EQ(node_view("n2")["refusals"], 0) << node_view("n2");
  EXPECT_EQ(node_view("n1")["refusals"], n1_refusals) << "the restarted n1 took every call";
  // With no live node left, dc1's calls are refused cleanly.
  set_beating("n1", false);
  ASSERT_TRUE(wait_until([&] { return node_view("n1")["health"] == "stale"; }));
  auto none = call("GET", "/v1/hosts/a1?site=dc1");
  EXPECT_EQ(none.status, 503) << none.body;
  EXPECT_NE(none.headers.find("Retry-After"), std::string::npos);
}

TEST_F(RouterProcess, ForgedHeartbeatsAreRefusedAndCounted) {
  cluster::heartbeat hb;
  hb.node_id = "evil";
  hb.site = "dc1";
  hb.cluster = "all";
  hb.api_url = "http://127.0.0.1:1";
  hb.version = "x";
  hb.sent_at_ms = system_clock{}.now();
  auto body = cluster::encode(hb);
  auto forged =
      http_call(router_->port(), "POST", "/v1/heartbeats", body,
                "X-AB-Signature: " + cluster::sign(body, hb.sent_at_ms, "guess") + "\r\n");
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(http_call(router_->port(), "POST", "/v1/heartbeats", body).status, 401);
  EXPECT_TRUE(node_view("evil").is_null());
  auto doc = json::parse(call("GET", "/v1/cluster").body);
  EXPECT_GE(doc["router"]["heartbeats_refused"].get<int>(), 2);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

/// A node that takes connections and calls but never answers.
class silent_node {
 public:
  silent_node() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~silent_node() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(RouterProcess, ALostCallNamesTheKeyToRetryWithAndOverloadIs429NotAnError) {
  silent_node silent;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& n = nodes_["s1"];
    n.id = "s1";
    n.site = "quiet";
    n.site_id = 7;
    n.port = silent.port();
    send_beat(n);
  }
  auto lost = call("POST", "/v1/requests?site=quiet", R"({"action":"discover","host":"q1"})",
                   "Idempotency-Key: q1-once\r\n");
  EXPECT_EQ(lost.status, 502) << lost.body;
  EXPECT_EQ(json::parse(lost.body)["error"]["code"], "node_lost");
  EXPECT_NE(lost.headers.find("Idempotency-Key: q1-once"), std::string::npos) << lost.headers;

  // A router at its limit answers 429 at once, not 5xx.
  auto limited = std::make_unique<harness::server_process>(
      AB_ROUTER_BIN,
      std::vector<std::string>{"--listen", "127.0.0.1:0", "--heartbeat-secret-file",
                               (dir_ / "hb.secret").string(), "--max-in-flight", "1",
                               "--request-timeout-ms", "3000"},
      (dir_ / "limited.log").string());
  ASSERT_TRUE(limited->ok()) << limited->output();
  cluster::heartbeat hb;
  hb.node_id = "s1";
  hb.site = "quiet";
  hb.site_id = 7;
  hb.cluster = "all";
  hb.api_url = "http://127.0.0.1:" + std::to_string(silent.port());
  hb.version = "test";
  hb.sent_at_ms = system_clock{}.now();
  auto body = cluster::encode(hb);
  ASSERT_EQ(http_call(limited->port(), "POST", "/v1/heartbeats", body,
                      "X-AB-Signature: " + cluster::sign(body, hb.sent_at_ms, secret) + "\r\n")
                .status,
            204);
  auto held = std::async(std::launch::async, [&] {
    return http_call(limited->port(), "GET", "/v1/hosts?site=quiet").status;
  });
  ASSERT_TRUE(wait_until([&] {
    auto doc = json::parse(http_call(limited->port(), "GET", "/v1/cluster").body, nullptr, false);
    return !doc.is_object() ||
           doc["sites"][0]["clusters"]["all"][0]["router_in_flight"].get<int>() == 1;
  }));
  auto shed = http_call(limited->port(), "GET", "/v1/hosts?site=quiet");
  EXPECT_EQ(shed.status, 429) << shed.body;
  EXPECT_NE(shed.headers.find("Retry-After"), std::string::npos);
  EXPECT_EQ(held.get(), 502);
  EXPECT_EQ(limited->terminate(), 0) << limited->output();
}

}  // namespace
}  // namespace ab::testing
