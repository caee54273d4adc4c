// ab-router in front of real ab-node processes of two sites (SQLite: two nodes share dc1's
// database, one node serves dc2's): calls land on a node of the host's site, a killed node is
// skipped at once on refusal and after staleness, a restarted node is used again, overload is
// 429, and a call lost after the node took it tells the idempotency key to retry with.
// Heartbeats are sent by the test itself, signed with the deployment's secret; a node with
// routers configured sends its own, signed with the secret it rereads on SIGHUP.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "tests/fakes/cluster_fixture.hpp"
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
    secret_file_ = write_secret_file(dir_, secret);
    ::setenv("AB_BMC_ROUTER", "admin:password", 1);
    router_ = start_router(
        secret_file_, dir_ / "router.log",
        {"--freshness-ms", "1500", "--set-aside-ms", "600000", "--request-timeout-ms", "1500"});
    ASSERT_TRUE(router_->ok()) << router_->output();
    nodes_ = std::make_unique<announced_nodes>(
        dir_, secret, [port = router_->port()] { return std::vector<int>{port}; });
    ASSERT_TRUE(nodes_->start("n1", "dc1", 0));
    ASSERT_TRUE(nodes_->start("n2", "dc1", 0));
    ASSERT_TRUE(nodes_->start("n3", "dc2", 1));
    ASSERT_TRUE(wait_until([&] { return live_nodes(router_->port()) == 3; }))
        << call("GET", "/v1/cluster").body;
  }
  void TearDown() override {
    nodes_.reset();
    if (router_) {
      EXPECT_EQ(router_->terminate(), 0) << router_->output();
    }
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(router_->port(), method, path, body, headers);
  }
  http_answer direct(const std::string& id, const std::string& method, const std::string& path) {
    return http_call(nodes_->port(id), method, path);
  }
  json node_view(const std::string& id) { return testing::node_view(router_->port(), id); }

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
  std::string secret_file_;
  std::unique_ptr<harness::server_process> router_;
  std::unique_ptr<announced_nodes> nodes_;
};

TEST_F(RouterProcess, SighupRereadsTheHeartbeatSecretAndAnUnusableFileKeepsTheOldOne) {
  // n1's heartbeat, signed with `key`, strictly newer than the last one the test sent.
  std::int64_t last = 0;
  auto beat = [&](const std::string& key) {
    last = std::max(system_clock{}.now(), last + 1);
    auto hb = heartbeat_of("n1", "dc1", 0, "http://127.0.0.1:" + std::to_string(nodes_->port("n1")),
                           last);
    return post_heartbeat(router_->port(), hb, key);
  };
  write_secret_file(dir_, "rotated-secret",
                    std::filesystem::path{secret_file_}.filename().string());
  router_->signal(SIGHUP);
  // Heartbeats signed with the new secret are taken once the router has reread the file.
  ASSERT_TRUE(wait_until([&] { return beat("rotated-secret") == 204; })) << router_->output();
  EXPECT_EQ(beat(secret), 401) << "the old secret is no longer valid";
  // A file others may read is refused: the rotated secret stays in use.
  { std::ofstream{secret_file_} << "leaked-secret\n"; }
  ::chmod(secret_file_.c_str(), 0644);
  router_->signal(SIGHUP);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(beat("rotated-secret"), 204);
  EXPECT_EQ(beat("leaked-secret"), 401);
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

TEST_F(RouterProcess, ADestructiveCallSpanningSitesIsConfirmedByItsWholeHostCount) {
  // 12 hosts in each site; the nodes' confirmation threshold is the default, 10 hosts.
  json hosts = json::array();
  for (int s = 1; s <= 2; ++s)
    for (int i = 1; i <= 12; ++i)
      hosts.push_back({{"name", "dc" + std::to_string(s) + "-h" + std::to_string(i)},
                       {"site", "dc" + std::to_string(s)},
                       {"bmc_endpoint", "https://192.0.2." + std::to_string(20 * s + i)},
                       {"credential_ref", "env:AB_BMC_ROUTER"}});
  auto registered = call("POST", "/v1/hosts", json{{"hosts", hosts}}.dump());
  ASSERT_EQ(registered.status, 201) << registered.body;
  // `per_site` hosts of each site, interleaved, with `extra` fields.
  auto power_off = [&](int per_site, const json& extra = json::object()) {
    json names = json::array();
    for (int i = 1; i <= per_site; ++i)
      for (const auto* site : {"dc1", "dc2"})
        names.push_back(std::string{site} + "-h" + std::to_string(i));
    json b{{"action", "power_off"}, {"hosts", names}};
    b.update(extra);
    return call("POST", "/v1/requests", b.dump());
  };
  // 12 hosts in parts of 6: above the threshold as a whole, so each site refuses an
  // unconfirmed part, and one confirmed by a part's count.
  for (const auto& extra : {json::object(), json{{"confirm_hosts", 6}}}) {
    auto r = power_off(6, extra);
    EXPECT_EQ(r.status, 422) << extra << r.body;
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["error"]["code"], "confirmation_required") << r.body;
    for (const auto& s : doc["sites"]) EXPECT_EQ(s["status"], 422) << r.body;
  }
  // A caller cannot make the parts small: its own whole_call_hosts is not passed on.
  EXPECT_EQ(power_off(6, {{"confirm_hosts", 6}, {"whole_call_hosts", 6}}).status, 422);
  // What a router that passed the parts on as they were sent each site: dc1's 12 hosts
  // confirmed by the whole call's 24, which the node, counting 12, refuses.
  json dc1_part = json::array();
  for (int i = 1; i <= 12; ++i) dc1_part.push_back("dc1-h" + std::to_string(i));
  auto alone =
      http_call(nodes_->port("n1"), "POST", "/v1/requests",
                json{{"action", "power_off"}, {"hosts", dc1_part}, {"confirm_hosts", 24}}.dump());
  EXPECT_EQ(alone.status, 422) << alone.body;
  // 24 hosts confirmed as 12 (one site's count) are refused; confirmed as 24, every site
  // takes its part of 12.
  EXPECT_EQ(power_off(12, {{"confirm_hosts", 12}}).status, 422);
  auto confirmed = power_off(12, {{"confirm_hosts", 24}});
  ASSERT_EQ(confirmed.status, 202) << confirmed.body;
  auto doc = json::parse(confirmed.body);
  EXPECT_EQ(doc["requests"].size(), 24u);
  for (const auto& e : doc["requests"]) EXPECT_EQ(e["status"], "accepted") << confirmed.body;
}

TEST_F(RouterProcess, AKilledNodeIsSkippedAtOnceAStaleOneIsNotUsedAndARestartedOneIsUsedAgain) {
  register_hosts();
  // n1 dies: its heartbeats stop, and its port refuses at once.
  nodes_->kill("n1");
  for (int i = 0; i < 10; ++i) {
    auto r = call("GET", "/v1/hosts/a1?site=dc1");
    ASSERT_EQ(r.status, 200) << "call " << i << ": " << r.body;
  }
  auto n1 = node_view("n1");
  EXPECT_GE(n1["refusals"].get<int>(), 1) << n1;
  EXPECT_EQ(n1["health"], "set_aside");

  // n1 comes back on another port and announces itself: it is used again.
  ASSERT_TRUE(nodes_->start("n1", "dc1", 0));
  ASSERT_TRUE(wait_until([&] { return node_view("n1")["health"] == "fresh"; }));

  // n2 goes quiet: once its heartbeat is older than the window, no call goes to it (it is
  // killed too, so a call that went to it would count a refusal).
  nodes_->set_beating("n2", false);
  ASSERT_TRUE(wait_until([&] { return node_view("n2")["health"] == "stale"; }));
  auto n1_refusals = node_view("n1")["refusals"];
  nodes_->kill("n2");
  for (int i = 0; i < 10; ++i) {
    auto r = call("POST", "/v1/requests", R"({"action":"discover","host":"a2"})",
                  "Idempotency-Key: a2-once\r\n");
    ASSERT_EQ(r.status, 202) << "call " << i << ": " << r.body;
  }
  EXPECT_EQ(node_view("n2")["refusals"], 0) << node_view("n2");
  EXPECT_EQ(node_view("n1")["refusals"], n1_refusals) << "the restarted n1 took every call";
  // With no live node left, dc1's calls are refused cleanly.
  nodes_->set_beating("n1", false);
  ASSERT_TRUE(wait_until([&] { return node_view("n1")["health"] == "stale"; }));
  auto none = call("GET", "/v1/hosts/a1?site=dc1");
  EXPECT_EQ(none.status, 503) << none.body;
  EXPECT_NE(none.headers.find("Retry-After"), std::string::npos);
}

TEST_F(RouterProcess, ForgedHeartbeatsAreRefusedAndCounted) {
  auto hb = heartbeat_of("evil", "dc1", 0, "http://127.0.0.1:1", system_clock{}.now());
  EXPECT_EQ(post_heartbeat(router_->port(), hb, "guess"), 401);
  EXPECT_EQ(http_call(router_->port(), "POST", "/v1/heartbeats", cluster::encode(hb)).status, 401);
  EXPECT_TRUE(node_view("evil").is_null());
  auto doc = json::parse(call("GET", "/v1/cluster").body);
  EXPECT_GE(doc["router"]["heartbeats_refused"].get<int>(), 2);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

TEST_F(RouterProcess, ANodeRereadsItsHeartbeatSecretOnSighupAndKeepsItOverABadFile) {
  // The node starts with a secret the router does not hold: its heartbeats are refused.
  auto node_secret = write_secret_file(dir_, "not the deployment's secret", "node.secret");
  auto node =
      start_node("s9", "dc3", "sqlite:" + (dir_ / "dc3.db").string(), dir_ / "s9.log",
                 {"--handlers", "none", "--site-id", "3", "--routers",
                  "http://127.0.0.1:" + std::to_string(router_->port()), "--heartbeat-secret-file",
                  node_secret, "--router-heartbeat-interval-ms", "200"});
  ASSERT_TRUE(node->ok()) << node->output();
  auto to_router = [&] {
    auto doc = json::parse(http_call(node->port(), "GET", "/v1/node").body, nullptr, false);
    auto r = doc.is_object() ? doc["heartbeats"]["routers"][0] : json{};
    return r.is_object() ? r : json::object();
  };
  ASSERT_TRUE(wait_until([&] { return to_router().value("last_error", "") == "answered 401"; }))
      << to_router();
  EXPECT_TRUE(node_view("s9").is_null());

  // The deployment's secret in the file, and SIGHUP: the router takes the next heartbeats.
  write_secret_file(dir_, secret, "node.secret");
  node->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return node_view("s9")["health"] == "fresh"; }))
      << to_router() << node->output();

  // A bad file (readable by others): the node says why and keeps the secret in use.
  {
    std::filesystem::remove(node_secret);
    std::ofstream{node_secret} << "a leaked secret\n";
  }
  ::chmod(node_secret.c_str(), 0644);
  node->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] {
    return node->output().find("heartbeat secret refused") != std::string::npos;
  })) << node->output();
  EXPECT_NE(node->output().find("chmod 600"), std::string::npos) << node->output();
  auto sent = to_router().value("sent", 0);
  ASSERT_TRUE(wait_until([&] { return to_router().value("sent", 0) >= sent + 3; })) << to_router();
  EXPECT_EQ(to_router().value("last_error", "x"), "") << to_router();
  EXPECT_EQ(node->terminate(), 0) << node->output();
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
  nodes_->add_fake("s1", "quiet", 7, silent.port());
  auto lost = call("POST", "/v1/requests?site=quiet", R"({"action":"discover","host":"q1"})",
                   "Idempotency-Key: q1-once\r\n");
  EXPECT_EQ(lost.status, 502) << lost.body;
  EXPECT_EQ(json::parse(lost.body)["error"]["code"], "node_lost");
  EXPECT_NE(lost.headers.find("Idempotency-Key: q1-once"), std::string::npos) << lost.headers;

  // A router at its limit answers 429 at once, not 5xx.
  auto limited = start_router(secret_file_, dir_ / "limited.log",
                              {"--max-in-flight", "1", "--request-timeout-ms", "3000"});
  ASSERT_TRUE(limited->ok()) << limited->output();
  auto hb = heartbeat_of("s1", "quiet", 7, "http://127.0.0.1:" + std::to_string(silent.port()),
                         system_clock{}.now());
  ASSERT_EQ(post_heartbeat(limited->port(), hb, secret), 204);
  auto held = std::async(std::launch::async, [&] {
    return http_call(limited->port(), "GET", "/v1/hosts?site=quiet").status;
  });
  ASSERT_TRUE(wait_until([&] {
    auto doc = router_cluster(limited->port());
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
