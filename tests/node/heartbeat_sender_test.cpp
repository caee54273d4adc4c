// The router heartbeat sender against fake routers and a fake node API on loopback: what it
// signs and sends, that one router down does not stop the others, and when it stays silent.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cluster/heartbeat.hpp"
#include "core/error.hpp"
#include "net/http/server.hpp"
#include "node/heartbeat_sender.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/test_cert.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

constexpr const char* secret = "router heartbeat test secret";

/// A router that checks each heartbeat as a real one would and keeps the good ones.
class fake_router {
 public:
  /// `hold`, when set, is asked before answering (on another thread), so a test can keep this
  /// router silent for a while.
  explicit fake_router(std::function<int()> hold = {}) : hold_(std::move(hold)) {
    net::server_options so;
    so.port = 0;
    auto s = net::http_server::start(so, [this](net::http_request&& req, net::responder respond) {
      if (req.method != "POST" || req.target != "/v1/heartbeats")
        return respond({404, "text/plain", "", {}});
      auto sig = req.headers.find("x-ab-signature");
      auto hb = cluster::verify(req.body, sig == req.headers.end() ? "" : sig->second, secret,
                                system_clock{}.now());
      if (!hb) return respond({401, "text/plain", message_of(hb.error()), {}});
      {
        std::lock_guard<std::mutex> guard{mutex_};
        got_.push_back(*hb);
      }
      if (!hold_) return respond({204, "", "", {}});
      std::thread([hold = hold_, respond] { respond({hold(), "", "", {}}); }).detach();
    });
    EXPECT_TRUE(s);
    server_ = std::move(*s);
  }
  ~fake_router() { server_->stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<cluster::heartbeat> received() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return got_;
  }

 private:
  std::function<int()> hold_;
  mutable std::mutex mutex_;
  std::vector<cluster::heartbeat> got_;
  std::unique_ptr<net::http_server> server_;
};

/// The node's own API as far as the sender sees it: `/readyz` answers `status`.
class fake_api {
 public:
  explicit fake_api(int status, net::tls_settings tls = {}) : status_(status) {
    net::server_options so;
    so.port = 0;
    so.tls = std::move(tls);
    auto s = net::http_server::start(so, [this](net::http_request&& req, net::responder respond) {
      respond({req.target == "/readyz" ? status_.load() : 404, "application/json", "{}", {}});
    });
    EXPECT_TRUE(s) << (s ? "" : message_of(s.error()));
    server_ = std::move(*s);
  }
  ~fake_api() { server_->stop(); }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(server_->port());
  }
  std::atomic<int> status_;

 private:
  std::unique_ptr<net::http_server> server_;
};

/// A loopback URL where nothing listens.
std::string dead_url() {
  net::server_options so;
  so.port = 0;
  auto s = net::http_server::start(so, [](net::http_request&&, net::responder r) { r({}); });
  auto port = (*s)->port();
  (*s)->stop();
  return "http://127.0.0.1:" + std::to_string(port);
}

node::heartbeat_sender_config sender(const std::string& api_url, std::vector<std::string> routers) {
  node::heartbeat_sender_config c;
  c.identity = {"node-a1", "dc-east", 4, "", api_url, 0, 0, "0.1.0", 0};
  c.routers = std::move(routers);
  c.secret = std::make_shared<node::heartbeat_secret>("", secret);
  c.interval_ms = 50;
  c.calls.timeout = std::chrono::milliseconds(8000);
  c.busy_workers = [] { return std::int64_t{1}; };
  c.api_in_flight = [] { return std::int64_t{3}; };
  c.stats = std::make_shared<node::heartbeat_stats>(c.routers);
  c.clk = std::make_shared<system_clock>();
  return c;
}

actors::pool_status serving(bool draining = false) {
  actors::pool_status st;
  st.cluster = "build";
  st.workers = {{"install", 3}, {"power", 1}};
  st.draining = draining;
  return st;
}

}  // namespace

TEST(HeartbeatSender, AnnouncesASignedHeartbeatToEveryRouter) {
  fake_api api{200};
  fake_router r1, r2;
  auto cfg = sender(api.url(), {r1.url(), r2.url() + "/"});
  node::announce_once(cfg, serving());
  for (auto* r : {&r1, &r2}) {
    auto got = r->received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].node_id, "node-a1");
    EXPECT_EQ(got[0].site, "dc-east");
    EXPECT_EQ(got[0].site_id, 4);
    EXPECT_EQ(got[0].cluster, "build");
    EXPECT_EQ(got[0].api_url, api.url());
    EXPECT_DOUBLE_EQ(got[0].load, 0.25) << "1 busy worker of 4";
    EXPECT_EQ(got[0].api_in_flight, 3);
    EXPECT_EQ(got[0].version, "0.1.0");
  }
  auto s = cfg.stats->read();
  EXPECT_TRUE(s.announcing);
  ASSERT_EQ(s.routers.size(), 2u);
  for (const auto& r : s.routers) {
    EXPECT_EQ(r.sent, 1);
    EXPECT_EQ(r.failures, 0);
    EXPECT_GT(r.last_sent_ms, 0);
  }
}

TEST(HeartbeatSender, ARouterDownOrSilentDoesNotKeepTheOthersFromTheirHeartbeat) {
  fake_api api{200};
  fake_router good;
  // The slow router answers once the good one has its heartbeat (so only if both calls are
  // under way together), or with 503 after a few seconds (when they are made one by one).
  fake_router slow{[&good] {
    bool both = wait_until([&] { return !good.received().empty(); }, std::chrono::seconds(3));
    return both ? 204 : 503;
  }};
  auto dead = dead_url();
  auto cfg = sender(api.url(), {dead, slow.url(), good.url()});
  node::announce_once(cfg, serving());
  EXPECT_EQ(good.received().size(), 1u);
  auto s = cfg.stats->read();
  ASSERT_EQ(s.routers.size(), 3u);
  EXPECT_EQ(s.routers[0].failures, 1) << "connection refused";
  EXPECT_FALSE(s.routers[0].last_error.empty());
  EXPECT_EQ(s.routers[1].sent, 1) << "the slow router was called alongside the good one: "
                                  << s.routers[1].last_error;
  EXPECT_EQ(s.routers[2].sent, 1);
}

TEST(HeartbeatSender, CountsARefusedHeartbeatAsAFailure) {
  fake_api api{200};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  cfg.secret = std::make_shared<node::heartbeat_secret>("", "not the deployment's secret");
  node::announce_once(cfg, serving());
  EXPECT_TRUE(router.received().empty());
  auto s = cfg.stats->read();
  EXPECT_EQ(s.routers[0].failures, 1);
  EXPECT_EQ(s.routers[0].last_error, "answered 401");
}

TEST(HeartbeatSender, SignsWithTheSecretItsFileHoldsOnceReloadedAndKeepsItOverABadFile) {
  auto dir = scratch_dir("ab-hb-secret-");
  auto path = (dir / "hb.secret").string();
  auto write = [&](const std::string& text, mode_t mode) {
    std::filesystem::remove(path);
    std::ofstream{path} << text;
    std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
  };
  write("the old secret\n", 0600);
  auto held = node::heartbeat_secret::load(path);
  ASSERT_TRUE(held) << message_of(held.error());
  fake_api api{200};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  cfg.secret = *held;
  node::announce_once(cfg, serving());
  EXPECT_TRUE(router.received().empty()) << "the router holds another secret";

  // The deployment's secret is written: the next round after a reload is accepted.
  write(std::string{secret} + "\n", 0600);
  node::announce_once(cfg, serving());
  EXPECT_TRUE(router.received().empty()) << "read at reload, not at each round";
  ASSERT_FALSE((*held)->reload());
  EXPECT_EQ((*held)->current(), secret);
  node::announce_once(cfg, serving());
  EXPECT_EQ(router.received().size(), 1u);

  // A file readable by others, an empty one, or none at all: refused, and the secret stays.
  write("a leaked secret", 0644);
  auto open_mode = (*held)->reload();
  ASSERT_TRUE(open_mode);
  EXPECT_NE(message_of(open_mode).find("chmod 600"), std::string::npos) << message_of(open_mode);
  write("", 0600);
  EXPECT_TRUE((*held)->reload());
  std::filesystem::remove(path);
  EXPECT_TRUE((*held)->reload());
  EXPECT_EQ((*held)->current(), secret);
  node::announce_once(cfg, serving());
  EXPECT_EQ(router.received().size(), 2u);
  node::heartbeat_secret given{"", "given"};
  EXPECT_TRUE(given.reload()) << "no file to reread";
  std::filesystem::remove_all(dir);
}

TEST(HeartbeatSender, AnnouncesNothingWhileItsOwnApiDoesNotAnswer) {
  fake_api api{503};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  node::announce_once(cfg, serving());
  EXPECT_TRUE(router.received().empty());
  auto s = cfg.stats->read();
  EXPECT_FALSE(s.announcing);
  EXPECT_NE(s.not_announcing_because.find("/readyz"), std::string::npos);
  // It comes back: announced again.
  api.status_ = 200;
  node::announce_once(cfg, serving());
  EXPECT_EQ(router.received().size(), 1u);
  EXPECT_TRUE(cfg.stats->read().announcing);
  // An API that is gone altogether.
  auto gone = sender(dead_url(), {router.url()});
  node::announce_once(gone, serving());
  EXPECT_EQ(router.received().size(), 1u);
  EXPECT_FALSE(gone.stats->read().announcing);
}

TEST(HeartbeatSender, AnnouncesNothingWhileTheNodeDrains) {
  fake_api api{200};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  node::announce_once(cfg, serving(true));
  EXPECT_TRUE(router.received().empty());
  EXPECT_NE(cfg.stats->read().not_announcing_because.find("drains"), std::string::npos);
}

TEST(HeartbeatSender, TellsEveryRouterThatTheNodeDrainsAndSendsNoRoundAfterIt) {
  fake_api api{200};
  fake_router r1, r2;
  auto cfg = sender(api.url(), {r1.url(), r2.url()});
  cfg.identity.protocol_min = 1;
  cfg.identity.protocol_max = 2;
  node::announce_once(cfg, serving());
  EXPECT_TRUE(node::announce_draining(cfg, "build"));
  node::announce_once(cfg, serving());
  for (auto* r : {&r1, &r2}) {
    auto got = r->received();
    ASSERT_EQ(got.size(), 2u) << "a round, the drain; no round after it";
    EXPECT_EQ(got[0].protocol_max, 2);
    EXPECT_FALSE(got[0].draining);
    EXPECT_TRUE(got[1].draining);
    EXPECT_EQ(got[1].cluster, "build");
    EXPECT_GT(got[1].sent_at_ms, got[0].sent_at_ms) << "strictly newer, or a router ignores it";
  }
}

TEST(HeartbeatSender, AProtocolOneNodeCannotSayItDrainsAndStopsAnnouncing) {
  fake_api api{200};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  EXPECT_FALSE(node::announce_draining(cfg, "build"));
  node::announce_once(cfg, serving());
  EXPECT_TRUE(router.received().empty());
}

TEST(HeartbeatSender, ChecksItsOwnHttpsApiAgainstTheConfiguredCa) {
  auto dir = scratch_dir("ab-hb-tls-");
  auto cert = make_test_cert(dir);
  fake_api api{200, {cert.cert_file, cert.key_file, std::chrono::milliseconds(0)}};
  fake_router router;
  auto untrusted = sender(api.url("https"), {router.url()});
  node::announce_once(untrusted, serving());
  EXPECT_TRUE(router.received().empty()) << "a self-signed certificate is not trusted by default";
  auto cfg = sender(api.url("https"), {router.url()});
  cfg.calls.ca_file = cert.cert_file;
  node::announce_once(cfg, serving());
  ASSERT_EQ(router.received().size(), 1u);
  EXPECT_EQ(router.received()[0].api_url, api.url("https"));
  std::filesystem::remove_all(dir);
}

TEST(HeartbeatSender, TheActorKeepsAnnouncingUntilTheNodeDrains) {
  fake_api api{200};
  fake_router router;
  auto cfg = sender(api.url(), {router.url()});
  auto stats = cfg.stats;
  auto draining = std::make_shared<std::atomic<bool>>(false);
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  // The state comes as a spawn argument: CAF 0.17 dereferences a null argument tuple when a
  // function is spawned with none (UBSan reports it).
  auto status = sys.spawn(
      [](std::shared_ptr<std::atomic<bool>> d) -> node::status_source::behavior_type {
        return {[d](actors::status_atom) { return serving(d->load()); }};
      },
      draining);
  auto actor = node::spawn_heartbeat_sender(sys, cfg, status);
  EXPECT_TRUE(wait_until([&] { return router.received().size() >= 2; }));
  draining->store(true);
  EXPECT_TRUE(wait_until(
      [&] { return stats->read().not_announcing_because.find("drains") != std::string::npos; }));
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(status, caf::exit_reason::user_shutdown);
}

TEST(HeartbeatSender, AnIdentityNoRouterWouldAcceptIsABadConfig) {
  auto cfg = sender("http://127.0.0.1:1", {"http://127.0.0.1:2"});
  EXPECT_FALSE(node::check_identity(cfg));
  cfg.identity.site = "DC-East";
  auto err = node::check_identity(cfg);
  ASSERT_TRUE(err);
  EXPECT_TRUE(is(err, errc::bad_config));
  EXPECT_NE(message_of(err).find("'site'"), std::string::npos) << message_of(err);
  // A cluster name of the map that no heartbeat may carry: not announced, and it says why.
  fake_api api{200};
  fake_router router;
  auto odd = sender(api.url(), {router.url()});
  auto st = serving();
  st.cluster = "build one";
  node::announce_once(odd, st);
  EXPECT_TRUE(router.received().empty());
  EXPECT_NE(odd.stats->read().not_announcing_because.find("'cluster'"), std::string::npos)
      << odd.stats->read().not_announcing_because;
}

TEST(HeartbeatSender, LoadIsBusyWorkersOverLiveWorkers) {
  EXPECT_DOUBLE_EQ(node::load_of(2, serving()), 0.5);
  EXPECT_DOUBLE_EQ(node::load_of(0, serving()), 0);
  EXPECT_DOUBLE_EQ(node::load_of(9, serving()), 1) << "never beyond 1";
  EXPECT_DOUBLE_EQ(node::load_of(1, actors::pool_status{}), 0) << "no workers";
}

TEST(HeartbeatSender, AdvertisesTheListenAddressWithTheServedScheme) {
  config::node_config c;
  c.listen = "127.0.0.1:0";
  EXPECT_EQ(*node::advertised_url(c, 8080), "http://127.0.0.1:8080");
  c.tls_cert = "cert.pem";
  EXPECT_EQ(*node::advertised_url(c, 8443), "https://127.0.0.1:8443");
  c.listen = "::1:0";
  EXPECT_EQ(*node::advertised_url(c, 8443), "https://[::1]:8443");
  c.listen = "0.0.0.0:8443";
  auto wildcard = node::advertised_url(c, 8443);
  ASSERT_FALSE(wildcard);
  EXPECT_NE(message_of(wildcard.error()).find("advertise-url"), std::string::npos);
  c.advertise_url = "https://node-a1.example:8443/";
  EXPECT_EQ(*node::advertised_url(c, 8443), "https://node-a1.example:8443");
}

}  // namespace ab::testing
