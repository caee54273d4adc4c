#pragma once

// What the multi-process tests of routers share: the deployment's heartbeat secret file,
// ab-router and ab-node processes on loopback, heartbeats signed as a node's sender signs
// them (for nodes the test announces itself), and the routers' `GET /v1/cluster` as a test
// reads it.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/heartbeat.hpp"
#include "harness/haproxy_process.hpp"
#include "harness/server_process.hpp"

namespace ab::testing {

/// Writes `secret` (and a newline) to `dir`/`name` with mode 600; returns its path.
std::string write_secret_file(const std::filesystem::path& dir, const std::string& secret,
                              const std::string& name = "hb.secret");

/// An ab-router on 127.0.0.1:`port` (0: a free one) with `secret_file` and `extra` options,
/// its output in `log`. Check `ok()`.
std::unique_ptr<harness::server_process> start_router(const std::string& secret_file,
                                                      const std::filesystem::path& log,
                                                      const std::vector<std::string>& extra = {},
                                                      int port = 0);

/// An ab-node `id` of `site` on a free loopback port with the store `store` and `extra`
/// options, its output in `log`. Check `ok()`.
std::unique_ptr<harness::server_process> start_node(const std::string& id, const std::string& site,
                                                    const std::string& store,
                                                    const std::filesystem::path& log,
                                                    const std::vector<std::string>& extra = {});

/// HAProxy with the deployment's sample config (deploy/haproxy/haproxy.cfg) in front of the
/// routers at `router1` and `router2` (HOST:PORT), its files in `dir`, once it sees both up;
/// null, with a test failure that says why, if it does not within 30 s.
std::unique_ptr<harness::haproxy_process> start_haproxy(const std::filesystem::path& dir,
                                                        const std::string& router1,
                                                        const std::string& router2);

/// The heartbeat a node's sender would send for a node at `api_url`, sent at `sent_at_ms`.
cluster::heartbeat heartbeat_of(const std::string& id, const std::string& site,
                                std::int64_t site_id, const std::string& api_url,
                                std::int64_t sent_at_ms, const std::string& cluster = "all");

/// POSTs `hb` to the router on `router_port`, signed with `secret`; the HTTP status (0: no
/// answer).
int post_heartbeat(int router_port, const cluster::heartbeat& hb, const std::string& secret);

/// What a submission with an idempotency key got: the id of the request it answers with
/// (made now or by an earlier call with the key), or 0 and what failed.
struct keyed_submission {
  std::int64_t id = 0;
  std::string failure;
};
/// `POST /v1/requests` of `action` on `host` with `Idempotency-Key: key` to 127.0.0.1:`port`
/// (a node, a router or a load balancer).
keyed_submission submit_keyed(int port, const std::string& action, const std::string& host,
                              const std::string& key);

/// The router's `GET /v1/cluster`, parsed; null when it gave no JSON object.
nlohmann::json router_cluster(int router_port);
/// The fresh nodes the router on `router_port` knows, all sites together.
int live_nodes(int router_port);
/// Node `id` as the router's `GET /v1/cluster` shows it (with `"cluster"` added), or null.
nlohmann::json node_view(int router_port, const std::string& id);

/// ab-node processes (and fakes that only listen) that the test announces itself: every
/// 200 ms, from a thread of its own, each beating node's signed heartbeat goes to every router
/// `router_ports` names, as the nodes' sender sends them. The nodes' SQLite stores are
/// `dir`/SITE.db. Thread-safe; the destructor stops the beats and kills the nodes.
class announced_nodes {
 public:
  announced_nodes(std::filesystem::path dir, std::string secret,
                  std::function<std::vector<int>()> router_ports);
  ~announced_nodes();
  announced_nodes(const announced_nodes&) = delete;
  announced_nodes& operator=(const announced_nodes&) = delete;

  /// Starts (or restarts, on a new port) ab-node `id` of `site` with handlers none, and
  /// announces it at once. False, with the node's output added to the test's failure, if it
  /// did not come up.
  bool start(const std::string& id, const std::string& site, std::int64_t site_id);
  /// Announces something on `port` that is no ab-node (e.g. a silent socket) as node `id`.
  void add_fake(const std::string& id, const std::string& site, std::int64_t site_id, int port);
  /// Whether `id`'s heartbeats keep going.
  void set_beating(const std::string& id, bool on);
  /// SIGKILLs `id`'s process (its heartbeats stop too).
  void kill(const std::string& id);
  /// The port of `id`'s API.
  int port(const std::string& id);
  /// Stops the beats (idempotent).
  void stop_beating();

 private:
  struct node {
    std::string id, site;
    std::int64_t site_id = 0;
    int port = 0;
    bool beating = true;
    std::unique_ptr<harness::server_process> process;
  };
  /// One heartbeat of `n` to every router, strictly newer than the last one. Under `mutex_`.
  void beat(const node& n);

  std::filesystem::path dir_;
  std::string secret_;
  std::function<std::vector<int>()> router_ports_;
  std::mutex mutex_;
  std::map<std::string, node> nodes_;
  std::int64_t last_sent_ = 0;
  std::atomic<bool> stop_{false};
  std::thread beater_;
};

}  // namespace ab::testing
