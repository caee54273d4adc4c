// abctl against fake routers (in-process HTTP servers on loopback ports): failover, the
// idempotency key of a retried submission, exit codes, the cluster endpoints, and hostile
// answers printed safely.

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/child_process.hpp"
#include "net/http/server.hpp"
#include "tools/abctl/abctl.hpp"

namespace ab::abctl {
namespace {

using json = nlohmann::json;

/// A fake router: answers each request with `answer`, and records what it was sent.
class fake_router {
 public:
  using answer_fn = std::function<net::http_response(const net::http_request&)>;

  explicit fake_router(answer_fn answer) : answer_(std::move(answer)) {
    net::server_options o;
    o.port = 0;
    auto s = net::http_server::start(o, [this](net::http_request&& req, net::responder respond) {
      {
        std::lock_guard lock{mutex_};
        seen_.push_back(req);
      }
      auto r = answer_(req);
      if (r.status == 0) {
        // Never answered: the responder is kept until the server stops.
        std::lock_guard lock{mutex_};
        held_.push_back(std::move(respond));
        return;
      }
      respond(std::move(r));
    });
    EXPECT_TRUE(s);
    if (s) server_ = std::move(*s);
  }
  ~fake_router() {
    if (server_) server_->stop();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<net::http_request> seen() const {
    std::lock_guard lock{mutex_};
    return seen_;
  }

 private:
  answer_fn answer_;
  mutable std::mutex mutex_;
  std::vector<net::http_request> seen_;
  std::vector<net::responder> held_;
  std::unique_ptr<net::http_server> server_;
};

net::http_response raw_reply(int status, std::string body) {
  net::http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

net::http_response reply(int status, const json& body) {
  net::http_response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

net::http_response error_reply(int status, const std::string& code, const std::string& msg) {
  return reply(status, json{{"error", {{"code", code}, {"message", msg}}}});
}

bool terminal_state(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

json request_json(std::int64_t id, const std::string& host, const std::string& state) {
  return json{{"id", id},
              {"action", "build"},
              {"host", host},
              {"site", "dc1"},
              {"priority", "user"},
              {"submitter", "ops"},
              {"state", state},
              {"created_at", 1},
              {"jobs", json::array({{{"position", 0},
                                     {"type", "power_off"},
                                     {"state", terminal_state(state) ? "done" : "running"},
                                     {"attempts", 1},
                                     {"max_attempts", 5}}})}};
}

/// What one in-process run of abctl printed and returned.
struct outcome {
  int code = -1;
  std::string out, err;
};

outcome run_abctl(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                  bool tty = false) {
  std::istringstream in;
  std::ostringstream out, err;
  auto e = [&env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  outcome o;
  o.code = run(args, e, {in, out, err, tty});
  o.out = out.str();
  o.err = err.str();
  return o;
}

std::string dead_url() {
  return "http://127.0.0.1:" + std::to_string(harness::free_port(SOCK_STREAM));
}

json page(std::vector<json> items) {
  return json{{"requests", items}};
}

TEST(AbctlFailover, A503RouterIsLeftForTheNextOne) {
  fake_router busy{[](const net::http_request&) { return error_reply(503, "unavailable", "x"); }};
  fake_router good{
      [](const net::http_request&) { return reply(200, page({request_json(5, "h5", "queued")})); }};
  auto o = run_abctl({"--router", busy.url(), "--router", good.url(), "list", "--retries", "0"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("h5"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("answered 503"), std::string::npos) << o.err;
  EXPECT_EQ(busy.seen().size(), 1u);
}

TEST(AbctlFailover, ARefusedConnectionMovesOnAndTheAnsweringRouterIsKept) {
  fake_router good{[](const net::http_request&) { return reply(200, page({})); }};
  auto o = run_abctl({"--router", dead_url(), "--router", good.url(), "list"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.err.find("trying " + good.url()), std::string::npos) << o.err;
}

TEST(AbctlFailover, ARouterThatNeverAnswersTimesOutAndTheNextOneAnswers) {
  fake_router silent{[](const net::http_request&) { return raw_reply(0, ""); }};
  fake_router good{[](const net::http_request&) { return reply(200, page({})); }};
  auto o =
      run_abctl({"--router", silent.url(), "--router", good.url(), "--timeout", "0.5", "list"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.err.find("imeout"), std::string::npos) << o.err;
}

TEST(AbctlFailover, NoRouterAnsweringIsExitFive) {
  auto o = run_abctl({"--router", dead_url(), "--router", dead_url(), "--retries", "1", "list"});
  EXPECT_EQ(o.code, exit_unreachable);
  EXPECT_NE(o.err.find("no router answered"), std::string::npos) << o.err;
}

TEST(AbctlFailover, ASubmissionIsRetriedElsewhereWithTheSameGeneratedKey) {
  fake_router broken{[](const net::http_request&) { return error_reply(502, "bad_gateway", "x"); }};
  fake_router good{[](const net::http_request& req) {
    auto body = json::parse(req.body);
    EXPECT_EQ(body["action"], "build");
    EXPECT_EQ(body["hosts"], json::array({"h1", "h2"}));
    EXPECT_EQ(body["priority"], "maas");
    return reply(202, json{{"requests",
                            {{{"host", "h1"}, {"id", 11}, {"status", "accepted"}},
                             {{"host", "h2"}, {"id", 12}, {"status", "accepted"}}}}});
  }};
  auto o = run_abctl({"--router", broken.url(), "--router", good.url(), "-o", "json", "submit",
                      "build", "h1", "h2", "--priority", "maas"});
  ASSERT_EQ(o.code, 0) << o.err;
  auto a = broken.seen(), b = good.seen();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  auto key = a[0].headers["idempotency-key"];
  EXPECT_EQ(key.rfind("abctl-", 0), 0u) << key;
  EXPECT_EQ(b[0].headers["idempotency-key"], key) << "the retry carries the same key";
  EXPECT_NE(o.err.find(key), std::string::npos) << "the generated key is printed: " << o.err;
  auto out = json::parse(o.out);
  EXPECT_EQ(out["idempotency_key"], key);
  EXPECT_EQ(out["requests"].size(), 2u);
}

TEST(AbctlFailover, TheCallersKeyIsSentAsGiven) {
  fake_router good{[](const net::http_request&) {
    return reply(202, json{{"requests", {{{"host", "h1"}, {"id", 3}, {"status", "accepted"}}}}});
  }};
  auto o = run_abctl(
      {"--router", good.url(), "submit", "build", "h1", "--idempotency-key", "change-42"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(good.seen().at(0).headers["idempotency-key"], "change-42");
  EXPECT_EQ(json::parse(good.seen().at(0).body)["host"], "h1");
  EXPECT_EQ(o.err.find("idempotency key"), std::string::npos) << "nothing to print: " << o.err;
}

TEST(AbctlExitCodes, EachKindOfRefusalHasItsCode) {
  fake_router r{[](const net::http_request& req) {
    if (req.target == "/v1/requests/404") return error_reply(404, "not_found", "no request");
    if (req.target == "/v1/requests/401") return error_reply(401, "unauthenticated", "who?");
    if (req.target == "/v1/requests/403") return error_reply(403, "forbidden", "no");
    if (req.target == "/v1/requests/6") return raw_reply(200, "<html>not json</html>");
    if (req.target == "/v1/requests/7")
      return reply(200, json{{"id", "7"}, {"host", "h"}, {"state", "queued"}});
    if (req.target == "/v1/requests/9/cancel")
      return error_reply(409, "conflict", "request 9 already finished");
    return reply(200, request_json(1, "h1", "succeeded"));
  }};
  auto code = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--router", r.url()});
    auto o = run_abctl(args);
    return o.code;
  };
  EXPECT_EQ(code({"status", "1"}), exit_ok);
  EXPECT_EQ(code({"status", "404"}), exit_not_found);
  EXPECT_EQ(code({"status", "401"}), exit_auth);
  EXPECT_EQ(code({"status", "403"}), exit_auth);
  EXPECT_EQ(code({"status", "6"}), exit_bad_answer);
  EXPECT_EQ(code({"status", "7"}), exit_bad_answer);
  EXPECT_EQ(code({"cancel", "9"}), exit_failed);
  EXPECT_EQ(code({"status", "1", "404"}), exit_not_found) << "the worst of several";
  EXPECT_EQ(code({"status", "--frob"}), exit_usage);
  EXPECT_EQ(run_abctl({"list"}).code, exit_usage) << "no router configured";
}

TEST(AbctlAuth, TheTokenIsSentAsABearerAndNeverPrinted) {
  fake_router r{[](const net::http_request& req) {
    if (req.headers.count("authorization") == 0 ||
        req.headers.at("authorization") != "Bearer tok-1")
      return error_reply(401, "unauthenticated", "no credentials");
    return reply(200, page({}));
  }};
  auto ok = run_abctl({"--router", r.url(), "list"}, {{"AB_TOKEN", "tok-1"}});
  EXPECT_EQ(ok.code, 0) << ok.err;
  auto denied = run_abctl({"--router", r.url(), "list"}, {{"AB_TOKEN", "tok-2"}});
  EXPECT_EQ(denied.code, exit_auth);
  EXPECT_EQ(denied.err.find("tok-2"), std::string::npos);
}

TEST(AbctlSanitising, HostileStringsFromAServerNeverReachTheTerminalRaw) {
  const std::string evil =
      "h\x1b]0;pwned\x07\x1b[2J\xe2\x80\xae"
      "1";
  fake_router r{[&](const net::http_request& req) {
    if (req.target.rfind("/v1/requests/2", 0) == 0)
      return error_reply(404, "not_found\x1b[31m", "no request " + evil);
    auto j = request_json(1, evil, "failed");
    j["error"] = "boom \x1b[?1049h" + evil;
    j["jobs"][0]["error"] = evil;
    if (req.target == "/v1/requests/1") return reply(200, j);
    return reply(200, page({j}));
  }};
  for (auto args : std::vector<std::vector<std::string>>{{"status", "1"},
                                                         {"status", "1", "2"},
                                                         {"list"},
                                                         {"-o", "json", "list"},
                                                         {"watch", "1"},
                                                         {"-o", "json", "status", "1"}}) {
    args.insert(args.begin(), {"--router", r.url()});
    auto o = run_abctl(args);
    for (const auto& text : {o.out, o.err}) {
      EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
      EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
      EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos) << text;
    }
    EXPECT_NE(o.out.find("pwned"), std::string::npos) << "shown, escaped: " << o.out;
  }
}

TEST(AbctlWatch, EndsWhenEveryRequestEndedAndTellsWhetherAllSucceeded) {
  std::atomic<int> calls{0};
  fake_router r{[&](const net::http_request& req) {
    int n = ++calls;
    if (req.target == "/v1/requests/1")
      return reply(200, request_json(1, "h1", n < 4 ? "running" : "succeeded"));
    return reply(200, request_json(2, "h2", n < 6 ? "queued" : "failed"));
  }};
  auto o = run_abctl({"--router", r.url(), "watch", "1", "2", "--interval", "0.05"});
  EXPECT_EQ(o.code, exit_failed) << o.out << o.err;
  EXPECT_NE(o.out.find("1 h1 build running"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("1 h1 build succeeded"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("2 h2 build failed"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("2/2 ended: 1 succeeded, 1 failed"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find('\r'), std::string::npos) << "plain lines when not on a terminal";
}

TEST(AbctlWatch, OnATerminalItDrawsAProgressBar) {
  std::atomic<int> calls{0};
  fake_router r{[&](const net::http_request&) {
    return reply(200, request_json(1, "h1", ++calls < 3 ? "running" : "succeeded"));
  }};
  auto o = run_abctl({"--router", r.url(), "watch", "1", "--interval", "0.05"}, {}, true);
  EXPECT_EQ(o.code, exit_ok) << o.err;
  EXPECT_NE(o.out.find("\r\x1b[2K[...."), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[####"), std::string::npos) << o.out;
}

TEST(AbctlWatch, MaxWaitGivesUpWithItsOwnCode) {
  fake_router r{
      [&](const net::http_request&) { return reply(200, request_json(1, "h1", "running")); }};
  auto o =
      run_abctl({"--router", r.url(), "watch", "1", "--interval", "0.05", "--max-wait", "0.3"});
  EXPECT_EQ(o.code, exit_gave_up) << o.err;
}

TEST(AbctlList, AllFollowsTheCursorToTheLastPage) {
  fake_router r{[&](const net::http_request& req) {
    if (req.target == "/v1/requests?state=failed&limit=1")
      return reply(200,
                   json{{"requests", {request_json(9, "h9", "failed")}}, {"next_cursor", "9"}});
    if (req.target == "/v1/requests?state=failed&limit=1&cursor=9")
      return reply(200, json{{"requests", {request_json(4, "h4", "failed")}}});
    return error_reply(400, "unknown_parameter", req.target);
  }};
  auto one = run_abctl({"--router", r.url(), "list", "--state", "failed", "--limit", "1"});
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.err.find("--cursor 9"), std::string::npos) << one.err;
  auto all = run_abctl(
      {"--router", r.url(), "-o", "json", "list", "--state", "failed", "--limit", "1", "--all"});
  ASSERT_EQ(all.code, 0) << all.err;
  auto j = json::parse(all.out);
  ASSERT_EQ(j["requests"].size(), 2u);
  EXPECT_EQ(j["requests"][1]["id"], 4);
  EXPECT_FALSE(j.contains("next_cursor"));
}

/// The routers' node table and a site's cluster map, as the router and the node serve them.
json cluster_table() {
  return json::parse(R"({"sites":[{"site":"dc1","site_id":1,"live_nodes":1,"clusters":{
    "build":[{"node_id":"n1","api_url":"http://127.0.0.1:1","load":0.25,"heartbeat_age_ms":1500,
              "health":"fresh","version":"0.1.0","api_in_flight":0}]}}],
    "router":{"in_flight":1,"max_in_flight":512,"failovers":2}})");
}

json map_doc(int version, const std::string& n1_cluster) {
  return json{
      {"version", version},
      {"map",
       {{"clusters", {{"build", {{"actions", {"reimage"}}}}, {"others", {{"actions", {"*"}}}}}},
        {"nodes", {{"n1", n1_cluster}}},
        {"default_cluster", "others"}}},
      {"changed_at_ms", 1764600000000},
      {"changed_by", "ops"}};
}

TEST(AbctlCluster, ShowPrintsTheRoutersNodesAndTheSitesMap) {
  fake_router r{[](const net::http_request& req) {
    if (req.target == "/v1/cluster") return reply(200, cluster_table());
    if (req.target == "/v1/cluster-map") return reply(200, map_doc(3, "build"));
    return error_reply(404, "not_found", "no route");
  }};
  auto o = run_abctl({"--router", r.url(), "cluster", "show"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("n1    dc1   build    fresh   0.25  1.5s"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("failovers=2"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("cluster map version 3, changed 2025-12-01T14:40:00Z by ops"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("others   *        (default)"), std::string::npos) << o.out;
  auto j = run_abctl({"--router", r.url(), "-o", "json", "cluster", "show"});
  ASSERT_EQ(j.code, 0);
  auto doc = json::parse(j.out);
  EXPECT_EQ(doc["cluster"], cluster_table());
  EXPECT_EQ(doc["cluster_map"]["version"], 3);
}

TEST(AbctlCluster, ShowOnANodeHasTheMapOnly) {
  fake_router node{[](const net::http_request& req) {
    if (req.target == "/v1/cluster-map") return reply(200, map_doc(1, "others"));
    return error_reply(404, "not_found", "no route");
  }};
  auto o = run_abctl({"--router", node.url(), "-o", "json", "cluster", "show"});
  ASSERT_EQ(o.code, 0) << o.err;
  auto doc = json::parse(o.out);
  EXPECT_TRUE(doc["cluster"].is_null());
  EXPECT_EQ(doc["cluster_map"]["version"], 1);
  fake_router nothing{[](const net::http_request&) { return error_reply(404, "not_found", "x"); }};
  EXPECT_EQ(run_abctl({"--router", nothing.url(), "cluster", "show"}).code, exit_not_found);
}

TEST(AbctlCluster, MovePostsTheNodeAndItsClusterAndPrintsTheNewMap) {
  fake_router r{[](const net::http_request& req) {
    if (req.method == "POST" && req.target == "/v1/cluster-map/moves") {
      auto b = json::parse(req.body);
      return reply(200, map_doc(4, b["cluster"]));
    }
    return error_reply(404, "not_found", "no route");
  }};
  auto o = run_abctl({"--router", r.url(), "cluster", "move", "n1", "others"});
  ASSERT_EQ(o.code, 0) << o.err;
  auto seen = r.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(json::parse(seen[0].body), (json{{"node", "n1"}, {"cluster", "others"}}));
  EXPECT_NE(o.out.find("node n1 moved to cluster others"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("cluster map version 4"), std::string::npos) << o.out;
  fake_router refusing{[](const net::http_request&) {
    return error_reply(422, "invalid_parameter", "no cluster 'nope' in the map");
  }};
  auto bad = run_abctl({"--router", refusing.url(), "cluster", "move", "n1", "nope"});
  EXPECT_EQ(bad.code, exit_failed);
  EXPECT_NE(bad.err.find("no cluster 'nope'"), std::string::npos) << bad.err;
}

TEST(AbctlSafety, ADryRunSendsDryRunAndPrintsEachHostsChecks) {
  fake_router r{[](const net::http_request&) {
    return reply(200, json{{"dry_run", true},
                           {"action", "reimage"},
                           {"accepted", false},
                           {"checks", {{{"check", "confirmation"}, {"ok", true}, {"reason", "x"}}}},
                           {"hosts",
                            {{{"host", "h1"},
                              {"accepted", false},
                              {"chain", {"power_off", "boot_installer"}},
                              {"checks",
                               {{{"check", "bmc_reachable"},
                                 {"ok", false},
                                 {"reason", "no answer"},
                                 {"effect", "refuse"}}}},
                              {"estimated_start_ms", 1764606000000},
                              {"estimated_end_ms", 1764606600000}}}},
                           {"estimate_basis", "typical"}});
  }};
  auto o = run_abctl(
      {"--router", r.url(), "submit", "reimage", "h1", "h2", "--dry-run", "--confirm-hosts", "2"});
  EXPECT_EQ(o.code, exit_failed) << o.err;  // would not be accepted
  auto sent = json::parse(r.seen().at(0).body);
  EXPECT_EQ(sent["dry_run"], true);
  EXPECT_EQ(sent["confirm_hosts"], 2);
  EXPECT_NE(o.out.find("would NOT be accepted"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("power_off>boot_installer"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("bmc_reachable: no answer"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("2025-12-01T"), std::string::npos) << o.out;
}

TEST(AbctlSafety, WavesCreateSendsThePlanAndShowsItsWaves) {
  fake_router r{[](const net::http_request& req) {
    json w{
        {"id", 7},
        {"action", "reimage"},
        {"state", "running"},
        {"current_wave", 1},
        {"waves_total", 2},
        {"max_unavailable", 1},
        {"group_by", "rack"},
        {"pause_s", 60},
        {"failure_threshold_pct", 10},
        {"reason", ""},
        {"waves",
         {{{"wave", 1},
           {"hosts", 1},
           {"pending", 0},
           {"running", 1},
           {"succeeded", 0},
           {"failed", 0}}}},
        {"hosts",
         {{{"host", "h1"}, {"wave", 1}, {"group", "r1"}, {"state", "running"}, {"request", 42}}}}};
    return reply(req.method == "POST" && req.target.find("/stop") == std::string::npos ? 201 : 200,
                 w);
  }};
  auto o = run_abctl({"--router", r.url(), "waves", "create", "reimage", "h1", "h2",
                      "--max-unavailable", "1", "--pause", "60", "--failure-threshold", "10",
                      "--group-by", "rack", "--confirm-hosts", "2"});
  ASSERT_EQ(o.code, exit_ok) << o.err;
  auto seen = r.seen();
  EXPECT_EQ(seen.at(0).target, "/v1/waves");
  auto sent = json::parse(seen.at(0).body);
  EXPECT_EQ(sent["hosts"], json({"h1", "h2"}));
  EXPECT_EQ(sent["max_unavailable"], 1);
  EXPECT_EQ(sent["pause_s"], 60);
  EXPECT_EQ(sent["failure_threshold_pct"], 10);
  EXPECT_EQ(sent["confirm_hosts"], 2);
  EXPECT_NE(o.out.find("wave plan 7: reimage, running, wave 1 of 2"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("42"), std::string::npos) << o.out;
  auto stop = run_abctl({"--router", r.url(), "waves", "stop", "7"});
  EXPECT_EQ(stop.code, exit_ok) << stop.err;
  EXPECT_EQ(r.seen().back().method, "POST");
  EXPECT_EQ(r.seen().back().target, "/v1/waves/7/stop");
  EXPECT_EQ(run_abctl({"--router", r.url(), "waves", "show", "x"}).code, exit_usage);
}

}  // namespace
}  // namespace ab::abctl
