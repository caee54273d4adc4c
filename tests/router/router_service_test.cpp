// The router's HTTP front in one process, in front of a fake node (an `http_server` on
// loopback that holds its answers until the test lets them go): who the node is told the client
// is, per-client limits behind a trusted load balancer, and the reloads of the heartbeat secret
// and of the scraper's token.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "auth/authenticator.hpp"
#include "auth/token.hpp"
#include "cluster/heartbeat.hpp"
#include "core/error.hpp"
#include "core/ip_networks.hpp"
#include "net/http/server.hpp"
#include "router/router.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/scratch_dir.hpp"

namespace ab::testing {
namespace {

/// A node that answers every call with the `X-Forwarded-For` it got, once released.
class held_node {
 public:
  held_node() {
    net::server_options so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.max_connections_per_peer = 1000;
    server_ = std::move(
        *net::http_server::start(so, [this](net::http_request&& req, net::responder respond) {
          auto it = req.headers.find("x-forwarded-for");
          std::lock_guard<std::mutex> guard{mutex_};
          held_.push_back({it == req.headers.end() ? "" : it->second, std::move(respond)});
          arrived_.notify_all();
        }));
  }
  ~held_node() {
    release();
    server_->stop();
  }
  std::uint16_t port() const { return server_->port(); }

  /// Waits (bounded) until `n` calls arrived in all.
  bool wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock{mutex_};
    return arrived_.wait_for(lock, std::chrono::seconds(10), [&] { return held_.size() >= n; });
  }
  /// Answers every held call.
  void release() {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& h : held_)
      if (h.respond) {
        auto r = net::http_response{200, "text/plain", h.forwarded_for, {}, false};
        std::exchange(h.respond, nullptr)(std::move(r));
      }
  }

 private:
  struct held {
    std::string forwarded_for;
    net::responder respond;
  };
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<held> held_;
  std::unique_ptr<net::http_server> server_;
};

/// The router's answer to one call, when it comes.
struct answer {
  std::shared_ptr<std::promise<net::http_response>> promise =
      std::make_shared<std::promise<net::http_response>>();
  std::future<net::http_response> future = promise->get_future();
  net::responder responder() {
    return [p = promise](net::http_response r) { p->set_value(std::move(r)); };
  }
  /// The response, or status 0 if none came in time.
  net::http_response get() {
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      net::http_response none;
      none.status = 0;
      return none;
    }
    return future.get();
  }
};

class RouterService : public ::testing::Test {
 protected:
  void start(router::router_options options) {
    clock_ = std::make_shared<manual_clock>();
    router::table_options to{60000, 5000};
    board_ = std::make_shared<router::table_board>(to, clock_);
    table_ = router::spawn_node_table(sys_, to, clock_, board_);
    client_ = std::move(*router::node_client::start({}));
    options.clock = clock_;
    service_ =
        std::make_unique<router::router_service>(sys_, table_, board_, client_, std::move(options));
    cluster::heartbeat hb;
    hb.node_id = "n1";
    hb.site = "dc1";
    hb.cluster = "all";
    hb.api_url = "http://127.0.0.1:" + std::to_string(node_.port());
    hb.version = "test";
    hb.sent_at_ms = clock_->now();
    caf::scoped_actor self{sys_};
    bool taken = false;
    self->request(table_, caf::infinite, router::beat_atom::value, router::beat_msg{hb})
        .receive([&](bool ok) { taken = ok; }, [&](caf::error&) {});
    ASSERT_TRUE(taken);
  }
  void TearDown() override {
    node_.release();
    if (client_) client_->stop();
    caf::anon_send_exit(table_, caf::exit_reason::user_shutdown);
  }

  /// A GET of the node's own resource from `remote`, claiming `forwarded_for` when not empty.
  void call(const std::string& remote, const std::string& forwarded_for, answer& a) {
    net::http_request req;
    req.method = "GET";
    req.target = "/v1/node";
    req.remote = remote;
    if (!forwarded_for.empty()) req.headers["x-forwarded-for"] = forwarded_for;
    service_->handle(std::move(req), a.responder());
  }

  static ip_networks networks(const std::vector<std::string>& entries) {
    return *ip_networks::parse(entries);
  }

  held_node node_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  std::shared_ptr<manual_clock> clock_;
  std::shared_ptr<router::table_board> board_;
  router::node_table_actor table_;
  std::shared_ptr<router::node_client> client_;
  std::unique_ptr<router::router_service> service_;
};

TEST_F(RouterService, TheNodeIsToldTheClientNamedByATrustedProxyAndThePeerOtherwise) {
  router::router_options o;
  o.trusted_proxies = networks({"10.1.0.0/16"});
  start(std::move(o));
  answer through_proxy, forged, direct;
  // HAProxy appends the client it saw to what the client sent: the last entry is believed.
  call("10.1.2.3:40000", "198.51.100.9, 203.0.113.7", through_proxy);
  call("192.0.2.50:40000", "203.0.113.7", forged);
  call("[2001:db8::5]:40000", "", direct);
  ASSERT_TRUE(node_.wait_for(3));
  node_.release();
  auto a = through_proxy.get();
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "203.0.113.7");
  auto b = forged.get();
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, "192.0.2.50") << "an untrusted peer cannot choose its address";
  auto c = direct.get();
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.body, "2001:db8::5");
}

TEST_F(RouterService, ATrustedProxysGarbledHeaderLeavesTheProxysOwnAddress) {
  router::router_options o;
  o.trusted_proxies = networks({"10.1.2.3"});
  start(std::move(o));
  answer a;
  call("10.1.2.3:40000", "not-an-address", a);
  ASSERT_TRUE(node_.wait_for(1));
  node_.release();
  EXPECT_EQ(a.get().body, "10.1.2.3");
}

TEST_F(RouterService, PerClientLimitsCountTheClientsBehindATrustedProxyApart) {
  router::router_options o;
  o.trusted_proxies = networks({"10.1.0.0/16"});
  o.max_in_flight_per_client = 1;
  start(std::move(o));
  answer first, second, other, again;
  call("10.1.2.3:40000", "203.0.113.7", first);
  ASSERT_TRUE(node_.wait_for(1));
  // The same client through the same proxy: at its limit, answered at once.
  call("10.1.2.3:40001", "203.0.113.7", second);
  auto refused = second.get();
  EXPECT_EQ(refused.status, 429);
  bool retry_after = false;
  for (const auto& [name, value] : refused.headers) retry_after |= name == "Retry-After";
  EXPECT_TRUE(retry_after);
  // Another client through the same proxy is not held back by it.
  call("10.1.2.3:40002", "203.0.113.8", other);
  ASSERT_TRUE(node_.wait_for(2));
  node_.release();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(other.get().status, 200);
  // Its place is free again once answered.
  call("10.1.2.3:40003", "203.0.113.7", again);
  ASSERT_TRUE(node_.wait_for(3));
  node_.release();
  EXPECT_EQ(again.get().status, 200);
}

TEST_F(RouterService, WithoutTrustedProxiesAProxysClientsShareItsLimit) {
  router::router_options o;
  o.max_in_flight_per_client = 1;
  start(std::move(o));
  answer first, second;
  call("10.1.2.3:40000", "203.0.113.7", first);
  ASSERT_TRUE(node_.wait_for(1));
  call("10.1.2.3:40001", "203.0.113.8", second);
  EXPECT_EQ(second.get().status, 429);
  node_.release();
  EXPECT_EQ(first.get().status, 200);
}

TEST_F(RouterService, CallsThroughItsOwnServerRunOnItsIOThreadsAndStopCleanly) {
  start({});
  net::server_options so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.threads = 2;
  auto* service = service_.get();
  auto front =
      net::http_server::start(so, [service](net::http_request&& req, net::responder respond) {
        // The client's calls go out on this very thread's context.
        if (!net::current_io_context())
          return respond(net::http_response{500, "text/plain", "not on an I/O thread", {}, false});
        service->handle(std::move(req), std::move(respond));
      });
  ASSERT_TRUE(front) << message_of(front.error());
  EXPECT_EQ(net::current_io_context(), nullptr) << "the test's own thread runs no server context";
  int port = (*front)->port();
  std::vector<std::future<http_answer>> calls;
  for (int i = 0; i < 4; ++i)
    calls.push_back(std::async(std::launch::async, [port] {
      return http_call(port, "GET", "/v1/node", "", "X-Forwarded-For: 203.0.113.7\r\n");
    }));
  ASSERT_TRUE(node_.wait_for(4));
  node_.release();
  for (auto& c : calls) {
    auto a = c.get();
    EXPECT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.body, "127.0.0.1") << "no trusted proxy: the peer is the client";
  }
  // As ab-router does: the client first (it closes its connections on the server's threads,
  // which still run), then the server.
  client_->stop();
  (*front)->stop();
}

/// A heartbeat of node n1 signed with `secret`, as the node's sender posts it.
net::http_request signed_beat(const std::string& secret, std::int64_t sent_at_ms, int port) {
  cluster::heartbeat hb;
  hb.node_id = "n1";
  hb.site = "dc1";
  hb.cluster = "all";
  hb.api_url = "http://127.0.0.1:" + std::to_string(port);
  hb.version = "test";
  hb.sent_at_ms = sent_at_ms;
  net::http_request req;
  req.method = "POST";
  req.target = "/v1/heartbeats";
  req.remote = "127.0.0.1:50000";
  req.body = cluster::encode(hb);
  req.headers["content-type"] = "application/json";
  req.headers["x-ab-signature"] = cluster::sign(req.body, sent_at_ms, secret);
  return req;
}

TEST_F(RouterService, AReloadedHeartbeatSecretIsUsedAndAnUnusableFileKeepsTheOldOne) {
  auto dir = scratch_dir("ab_router_secret_");
  auto file = (dir / "hb.secret").string();
  auto write = [&](const std::string& text, mode_t mode) {
    { std::ofstream{file} << text << "\n"; }
    ::chmod(file.c_str(), mode);
  };
  router::router_options o;
  o.heartbeat_secret = "old-secret";
  start(std::move(o));
  std::int64_t sent = clock_->now();
  auto beat = [&](const std::string& secret) {
    answer a;
    service_->handle(signed_beat(secret, ++sent, node_.port()), a.responder());
    return a.get().status;
  };
  EXPECT_EQ(beat("old-secret"), 204);
  write("new-secret", 0600);
  EXPECT_FALSE(service_->reload_heartbeat_secret(file));
  EXPECT_EQ(beat("new-secret"), 204);
  EXPECT_EQ(beat("old-secret"), 401);
  // Readable by others: refused, and the secret in use stays.
  write("leaked-secret", 0644);
  EXPECT_TRUE(service_->reload_heartbeat_secret(file));
  EXPECT_EQ(beat("new-secret"), 204);
  EXPECT_EQ(beat("leaked-secret"), 401);
  EXPECT_TRUE(service_->reload_heartbeat_secret((dir / "missing").string()));
  EXPECT_EQ(beat("new-secret"), 204);
  std::filesystem::remove_all(dir);
}

/// The router's `GET /metrics` answer to a caller presenting `token`.
int metrics_status(router::router_service& service, const std::string& token) {
  net::http_request req;
  req.method = "GET";
  req.target = "/metrics";
  req.remote = "127.0.0.1:4000";
  req.headers["authorization"] = "Bearer " + token;
  answer a;
  service.handle(std::move(req), a.responder());
  return a.get().status;
}

TEST_F(RouterService, AReloadedMetricsTokenIsAskedForAndAnUnusableFileKeepsTheOldOne) {
  auto dir = scratch_dir("ab_router_metrics_token_");
  auto file = (dir / "metrics.token").string();
  auto write = [&](const std::string& text, mode_t mode) {
    { std::ofstream{file} << text << "\n"; }
    ::chmod(file.c_str(), mode);
  };
  router::router_options o;
  o.heartbeat_secret = "secret";
  o.metrics_token = "old-token";
  start(std::move(o));
  EXPECT_EQ(metrics_status(*service_, "old-token"), 200);
  write("new-token", 0600);
  EXPECT_FALSE(service_->reload_metrics_token(file));
  EXPECT_EQ(metrics_status(*service_, "new-token"), 200);
  EXPECT_EQ(metrics_status(*service_, "old-token"), 401);
  // Readable by others, or gone: refused, and the token in use stays.
  write("leaked-token", 0644);
  EXPECT_TRUE(service_->reload_metrics_token(file));
  EXPECT_EQ(metrics_status(*service_, "new-token"), 200);
  EXPECT_EQ(metrics_status(*service_, "leaked-token"), 401);
  EXPECT_TRUE(service_->reload_metrics_token((dir / "missing").string()));
  EXPECT_EQ(metrics_status(*service_, "new-token"), 200);
  std::filesystem::remove_all(dir);
}

TEST_F(RouterService, ARouterWithoutAMetricsTokenServesNoMetricsAfterAReload) {
  auto dir = scratch_dir("ab_router_metrics_token_");
  auto file = (dir / "metrics.token").string();
  { std::ofstream{file} << "late-token\n"; }
  ::chmod(file.c_str(), 0600);
  router::router_options o;
  o.heartbeat_secret = "secret";
  start(std::move(o));
  EXPECT_FALSE(service_->reload_metrics_token(file));
  EXPECT_EQ(metrics_status(*service_, "late-token"), 404);
  std::filesystem::remove_all(dir);
}

/// The router's `GET /v1/cluster` with `authorization` (none when empty).
net::http_response cluster_view(router::router_service& service, const std::string& authorization,
                                const std::string& target = "/v1/cluster") {
  net::http_request req;
  req.method = "GET";
  req.target = target;
  req.remote = "127.0.0.1:4000";
  if (!authorization.empty()) req.headers["authorization"] = authorization;
  answer a;
  service.handle(std::move(req), a.responder());
  return a.get();
}

std::string header_of(const net::http_response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

TEST_F(RouterService, UnderAPolicyTheClusterViewNeedsABearerTokenWithRead) {
  auto dir = scratch_dir("ab_router_policy_");
  auto file = (dir / "policy.json").string();
  std::ofstream{file} << nlohmann::json{{"accounts",
                                         {{"viewer",
                                           {{"token_sha256", auth::sha256_hex("viewer-token")},
                                            {"roles", {"viewer"}}}},
                                          {"auditor",
                                           {{"token_sha256", auth::sha256_hex("auditor-token")},
                                            {"roles", {"auditor"}}}}}},
                                        {"roles",
                                         {{"viewer", {{{"actions", {"read"}}, {"sites", {"dc9"}}}}},
                                          {"auditor", {{{"actions", {"audit.read"}}}}}}}}
                             .dump();
  auth::authenticator_options ao;
  ao.policy_file = file;
  ao.words = {{"discover"}, {"user"}};
  ao.watch_interval = std::chrono::milliseconds{0};
  auto a = auth::authenticator::open(std::move(ao));
  ASSERT_TRUE(a) << message_of(a.error());
  router::router_options o;
  o.auth = std::move(*a);
  o.failures.max_failures = 3;
  start(std::move(o));
  auto none = cluster_view(*service_, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(header_of(none, "WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(cluster_view(*service_, "Bearer auditor-token").status, 403);
  // `read` on any site shows the view, as `GET /v1/node` does on a node.
  auto seen = cluster_view(*service_, "Bearer viewer-token");
  EXPECT_EQ(seen.status, 200);
  EXPECT_NE(seen.body.find("\"n1\""), std::string::npos) << seen.body;
  // A directory login is the nodes' business: not taken here.
  EXPECT_EQ(cluster_view(*service_, "Basic dmlld2VyOnRva2Vu").status, 401);
  // The third failure from the address: refused before any token is looked at.
  EXPECT_EQ(cluster_view(*service_, "Bearer guess").status, 401);
  EXPECT_EQ(cluster_view(*service_, "Bearer viewer-token").status, 429);
  // The operator's view itself holds no data: served without a token.
  auto page = cluster_view(*service_, "", "/ui/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_FALSE(header_of(page, "Content-Security-Policy").empty());
  std::filesystem::remove_all(dir);
}

TEST_F(RouterService, WithoutAPolicyTheClusterViewIsOpen) {
  start({});
  EXPECT_EQ(cluster_view(*service_, "").status, 200);
  EXPECT_EQ(cluster_view(*service_, "", "/ui/app.js").status, 200);
}

}  // namespace
}  // namespace ab::testing
