#include "node/heartbeat_sender.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::node {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("node");
  return log ? log : spdlog::default_logger()->clone("node");
}

std::string without_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

heartbeat_secret::heartbeat_secret(std::string path, std::string secret)
    : path_(std::move(path)), secret_(std::move(secret)) {}

caf::expected<std::shared_ptr<heartbeat_secret>> heartbeat_secret::load(const std::string& path) {
  auto secret = cluster::read_secret_file(path);
  if (!secret) return secret.error();
  return std::make_shared<heartbeat_secret>(path, std::move(*secret));
}

std::string heartbeat_secret::current() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return secret_;
}

caf::error heartbeat_secret::reload() {
  if (path_.empty()) return make_error(errc::bad_config, "the heartbeat secret has no file");
  auto secret = cluster::read_secret_file(path_);
  if (!secret) return secret.error();
  std::lock_guard<std::mutex> guard{mutex_};
  secret_ = std::move(*secret);
  return {};
}

heartbeat_stats::heartbeat_stats(const std::vector<std::string>& routers) {
  for (const auto& url : routers) {
    router_stats r;
    r.url = url;
    state_.routers.push_back(std::move(r));
  }
  state_.not_announcing_because = "not started yet";
}

heartbeat_stats::snapshot heartbeat_stats::read() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return state_;
}

void heartbeat_stats::announced(const std::vector<call_result>& results, time_ms now) {
  std::lock_guard<std::mutex> guard{mutex_};
  state_.announcing = true;
  state_.not_announcing_because.clear();
  for (std::size_t i = 0; i < results.size() && i < state_.routers.size(); ++i) {
    auto& r = state_.routers[i];
    const auto& res = results[i];
    if (res.error.empty() && res.status >= 200 && res.status < 300) {
      ++r.sent;
      r.last_sent_ms = now;
      r.last_error.clear();
    } else {
      ++r.failures;
      r.last_error = !res.error.empty() ? res.error
                     : res.status != 0  ? "answered " + std::to_string(res.status)
                                        : "no answer";
    }
  }
}

void heartbeat_stats::withheld(std::string why) {
  std::lock_guard<std::mutex> guard{mutex_};
  state_.announcing = false;
  state_.not_announcing_because = std::move(why);
}

double load_of(std::int64_t busy, const actors::pool_status& status) {
  std::int64_t workers = 0;
  for (const auto& [type, n] : status.workers) workers += n;
  if (workers <= 0 || busy <= 0) return 0;
  return std::min(1.0, static_cast<double>(busy) / static_cast<double>(workers));
}

namespace {

/// Records that this round announced nothing, and says so in the log when the reason is new
/// (a node that is never announced must not be silent about why).
void withhold(const heartbeat_sender_config& cfg, std::string why) {
  auto before = cfg.stats->read();
  if (before.announcing || before.not_announcing_because != why) {
    if (why == "the node drains")
      logger()->info("no longer announced to routers: {}", why);
    else
      logger()->warn("not announced to routers: {}", why);
  }
  cfg.stats->withheld(std::move(why));
}

}  // namespace

caf::error check_identity(const heartbeat_sender_config& cfg) {
  auto hb = cfg.identity;
  hb.cluster = "all";
  hb.sent_at_ms = cfg.clk ? cfg.clk->now() : 0;
  if (auto err = cluster::check(hb))
    return make_error(errc::bad_config, "this node cannot be announced to routers: " +
                                            message_of(err) + " (see docs/node.md)");
  return {};
}

void announce_once(const heartbeat_sender_config& cfg, const actors::pool_status& status) {
  auto log = logger();
  if (status.draining) {
    // Routers stop sending calls once the last heartbeat is stale; nothing new is promised.
    withhold(cfg, "the node drains");
    return;
  }
  auto ready = probe(without_trailing_slash(cfg.identity.api_url) + "/readyz", cfg.calls);
  if (!ready.error.empty() || ready.status != 200) {
    withhold(cfg,
             "its own API does not answer /readyz: " +
                 (ready.error.empty() ? "status " + std::to_string(ready.status) : ready.error));
    return;
  }
  // From here to the posts, under the gate: the drain's announcement goes after, or this
  // round does not go at all.
  std::lock_guard<std::mutex> gate{cfg.gate->mutex};
  if (cfg.gate->draining) {
    withhold(cfg, "the node drains");
    return;
  }
  auto hb = cfg.identity;
  hb.cluster = status.cluster;
  hb.load = load_of(cfg.busy_workers ? cfg.busy_workers() : 0, status);
  hb.api_in_flight = cfg.api_in_flight ? std::max<std::int64_t>(0, cfg.api_in_flight()) : 0;
  hb.sent_at_ms = std::max(cfg.clk->now(), cfg.gate->last_sent_ms + 1);
  cfg.gate->last_sent_ms = hb.sent_at_ms;
  if (auto err = cluster::check(hb)) {
    withhold(cfg, "the heartbeat is invalid: " + message_of(err));
    return;
  }
  auto body = cluster::encode(hb);
  auto signature = cluster::sign(body, hb.sent_at_ms, cfg.secret->current());
  std::vector<heartbeat_post> posts;
  for (const auto& router : cfg.routers)
    posts.push_back({without_trailing_slash(router) + "/v1/heartbeats", body, signature});
  auto results = post_all(posts, cfg.calls);
  bool was_announcing = cfg.stats->read().announcing;
  cfg.stats->announced(results, hb.sent_at_ms);
  if (!was_announcing) log->info("announced to {} router(s)", cfg.routers.size());
  for (std::size_t i = 0; i < results.size(); ++i)
    if (!results[i].error.empty() || results[i].status < 200 || results[i].status >= 300)
      log->warn("heartbeat to router {} failed: {}", cfg.routers[i],
                results[i].error.empty() ? "status " + std::to_string(results[i].status)
                                         : results[i].error);
}

bool announce_draining(const heartbeat_sender_config& cfg, const std::string& cluster) {
  std::lock_guard<std::mutex> gate{cfg.gate->mutex};
  cfg.gate->draining = true;
  if (cfg.identity.protocol_max < 2 || cfg.routers.empty()) return false;
  auto hb = cfg.identity;
  hb.cluster = cluster;
  hb.draining = true;
  hb.api_in_flight = cfg.api_in_flight ? std::max<std::int64_t>(0, cfg.api_in_flight()) : 0;
  hb.sent_at_ms = std::max(cfg.clk->now(), cfg.gate->last_sent_ms + 1);
  cfg.gate->last_sent_ms = hb.sent_at_ms;
  if (auto err = cluster::check(hb)) {
    logger()->warn("cannot tell routers that the node drains: {}", message_of(err));
    return false;
  }
  auto body = cluster::encode(hb);
  auto signature = cluster::sign(body, hb.sent_at_ms, cfg.secret->current());
  std::vector<heartbeat_post> posts;
  for (const auto& router : cfg.routers)
    posts.push_back({without_trailing_slash(router) + "/v1/heartbeats", body, signature});
  auto results = post_all(posts, cfg.calls);
  bool all = true;
  for (std::size_t i = 0; i < results.size(); ++i)
    if (!results[i].error.empty() || results[i].status < 200 || results[i].status >= 300) {
      all = false;
      logger()->warn("router {} was not told that the node drains: {}", cfg.routers[i],
                     results[i].error.empty() ? "status " + std::to_string(results[i].status)
                                              : results[i].error);
    }
  if (all) logger()->info("told {} router(s) that the node drains", cfg.routers.size());
  return all;
}

namespace {

struct sender_state {
  static inline const char* name = "router_heartbeat";
};

heartbeat_sender_actor::behavior_type heartbeat_sender(
    heartbeat_sender_actor::stateful_pointer<sender_state> self, const heartbeat_sender_config& cfg,
    const status_source& status) {
  self->send(self, actors::tick_atom::value);
  return {
      [=](actors::tick_atom) {
        auto next = [=] {
          self->delayed_send(self, std::chrono::milliseconds(cfg.interval_ms),
                             actors::tick_atom::value);
        };
        self->request(status, std::chrono::seconds(5), actors::status_atom::value)
            .then(
                [=](const actors::pool_status& st) {
                  announce_once(cfg, st);
                  next();
                },
                [=](const caf::error& err) {
                  cfg.stats->withheld("the supervisor did not report the node's state");
                  next();
                });
      },
  };
}

}  // namespace

heartbeat_sender_actor spawn_heartbeat_sender(caf::actor_system& sys, heartbeat_sender_config cfg,
                                              status_source status) {
  return sys.spawn<caf::detached>(heartbeat_sender, std::move(cfg), std::move(status));
}

actors::service_spec heartbeat_sender_service(heartbeat_sender_config cfg) {
  return {
      "router_heartbeat",
      [cfg = std::move(cfg)](caf::actor_system& sys, const actors::supervisor_actor& sup,
                             const config::cluster_map&) {
        return caf::actor_cast<caf::actor>(spawn_heartbeat_sender(sys, cfg, status_source{sup}));
      }};
}

caf::expected<std::string> advertised_url(const config::node_config& cfg, std::uint16_t port) {
  if (!cfg.advertise_url.empty()) return without_trailing_slash(cfg.advertise_url);
  auto hp = config::split_host_port(cfg.listen);
  if (!hp) return hp.error();
  auto host = hp->first;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "*")
    return make_error(errc::bad_config,
                      "advertise-url: listen " + cfg.listen +
                          " is a wildcard address that routers cannot call; set advertise-url "
                          "(e.g. https://node-a1.example:8443)");
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (cfg.tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(port);
}

namespace {

/// A handler whose attempts count as a busy worker while they run.
class busy_counting_handler final : public actors::job_handler {
 public:
  busy_counting_handler(std::shared_ptr<actors::job_handler> inner,
                        std::shared_ptr<std::atomic<std::int64_t>> busy)
      : inner_(std::move(inner)), busy_(std::move(busy)) {}

  actors::job_outcome run(const storage::claimed_job& job) override {
    busy_scope scope{*busy_};
    return inner_->run(job);
  }
  std::optional<actors::job_outcome> reconcile(const storage::claimed_job& job) override {
    busy_scope scope{*busy_};
    return inner_->reconcile(job);
  }

 private:
  struct busy_scope {
    explicit busy_scope(std::atomic<std::int64_t>& n) : n(n) { ++n; }
    ~busy_scope() { --n; }
    busy_scope(const busy_scope&) = delete;
    busy_scope& operator=(const busy_scope&) = delete;
    std::atomic<std::int64_t>& n;
  };
  std::shared_ptr<actors::job_handler> inner_;
  std::shared_ptr<std::atomic<std::int64_t>> busy_;
};

}  // namespace

void count_busy_workers(actors::handler_registry& handlers,
                        std::shared_ptr<std::atomic<std::int64_t>> busy) {
  for (const auto& type : handlers.types())
    handlers.add(type, std::make_shared<busy_counting_handler>(handlers.find(type), busy));
}

}  // namespace ab::node
