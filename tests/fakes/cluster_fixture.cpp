#include "tests/fakes/cluster_fixture.hpp"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "harness/child_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

using json = nlohmann::json;

std::string write_secret_file(const std::filesystem::path& dir, const std::string& secret,
                              const std::string& name) {
  return harness::write_secret_file(dir.string(), secret, name);
}

std::unique_ptr<harness::server_process> start_router(const std::string& secret_file,
                                                      const std::filesystem::path& log,
                                                      const std::vector<std::string>& extra,
                                                      int port) {
  std::vector<std::string> args{"--listen", "127.0.0.1:" + std::to_string(port),
                                "--heartbeat-secret-file", secret_file};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<harness::server_process>(AB_ROUTER_BIN, args, log.string());
}

std::unique_ptr<harness::server_process> start_node(const std::string& id, const std::string& site,
                                                    const std::string& store,
                                                    const std::filesystem::path& log,
                                                    const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--node-id",   id,        "--site", site, "--listen",
                                "127.0.0.1:0", "--store", store};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<harness::server_process>(AB_NODE_BIN, args, log.string());
}

std::unique_ptr<harness::haproxy_process> start_haproxy(const std::filesystem::path& dir,
                                                        const std::string& router1,
                                                        const std::string& router2) {
  auto lb = std::make_unique<harness::haproxy_process>(
      std::string{AB_SOURCE_DIR} + "/deploy/haproxy/haproxy.cfg",
      std::map<std::string, std::string>{{"AB_ROUTER1", router1}, {"AB_ROUTER2", router2}},
      dir.string());
  if (!lb->ok()) {
    ADD_FAILURE() << "haproxy did not start: " << lb->output();
    return nullptr;
  }
  for (const auto* r : {"router1", "router2"})
    if (!wait_until([&] { return lb->server_status("routers", r) == "UP"; })) {
      ADD_FAILURE() << r << " is not up: " << lb->admin("show stat");
      return nullptr;
    }
  return lb;
}

cluster::heartbeat heartbeat_of(const std::string& id, const std::string& site,
                                std::int64_t site_id, const std::string& api_url,
                                std::int64_t sent_at_ms, const std::string& cluster) {
  cluster::heartbeat hb;
  hb.node_id = id;
  hb.site = site;
  hb.site_id = site_id;
  hb.cluster = cluster;
  hb.api_url = api_url;
  hb.version = "test";
  hb.sent_at_ms = sent_at_ms;
  return hb;
}

int post_heartbeat(int router_port, const cluster::heartbeat& hb, const std::string& secret) {
  auto body = cluster::encode(hb);
  return http_call(router_port, "POST", "/v1/heartbeats", body,
                   "Content-Type: application/json\r\nX-AB-Signature: " +
                       cluster::sign(body, hb.sent_at_ms, secret) + "\r\n")
      .status;
}

keyed_submission submit_keyed(int port, const std::string& action, const std::string& host,
                              const std::string& key) {
  auto r = http_call(port, "POST", "/v1/requests", json{{"action", action}, {"host", host}}.dump(),
                     "Idempotency-Key: " + key + "\r\n");
  auto doc = json::parse(r.body, nullptr, false);
  // 202 for a new request, 200 for the one an earlier call with the key made.
  if ((r.status != 202 && r.status != 200) || !doc.is_object() || !doc.contains("requests") ||
      !doc["requests"].is_array() || doc["requests"].empty() || !doc["requests"][0].is_object() ||
      !doc["requests"][0]["id"].is_number_integer())
    return {0, "POST /v1/requests " + action + " " + host + " -> " + std::to_string(r.status) +
                   " " + r.body};
  return {doc["requests"][0]["id"].get<std::int64_t>(), ""};
}

json router_cluster(int router_port) {
  auto doc = json::parse(http_call(router_port, "GET", "/v1/cluster").body, nullptr, false);
  return doc.is_object() ? doc : json{};
}

int live_nodes(int router_port) {
  auto doc = router_cluster(router_port);
  int n = 0;
  if (doc.is_object())
    for (const auto& site : doc["sites"]) n += site.value("live_nodes", 0);
  return n;
}

json node_view(int router_port, const std::string& id) {
  auto doc = router_cluster(router_port);
  if (!doc.is_object()) return {};
  for (const auto& site : doc["sites"])
    for (const auto& [cluster, nodes] : site["clusters"].items())
      for (auto n : nodes)
        if (n["node_id"] == id) {
          n["cluster"] = cluster;
          return n;
        }
  return {};
}

announced_nodes::announced_nodes(std::filesystem::path dir, std::string secret,
                                 std::function<std::vector<int>()> router_ports)
    : dir_(std::move(dir)), secret_(std::move(secret)), router_ports_(std::move(router_ports)) {
  beater_ = std::thread([this] {
    while (!stop_) {
      {
        std::lock_guard<std::mutex> guard{mutex_};
        for (const auto& [id, n] : nodes_)
          if (n.beating) beat(n);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

announced_nodes::~announced_nodes() {
  stop_beating();
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& [id, n] : nodes_)
    if (n.process) n.process->kill();
}

void announced_nodes::stop_beating() {
  stop_ = true;
  if (beater_.joinable()) beater_.join();
}

bool announced_nodes::start(const std::string& id, const std::string& site, std::int64_t site_id) {
  auto p = start_node(id, site, "sqlite:" + (dir_ / (site + ".db")).string(), dir_ / (id + ".log"),
                      {"--handlers", "none"});
  if (!p->ok()) {
    ADD_FAILURE() << "node " << id << " did not start: " << p->output();
    return false;
  }
  std::lock_guard<std::mutex> guard{mutex_};
  auto& n = nodes_[id];
  n = node{id, site, site_id, p->port(), true, std::move(p)};
  beat(n);
  return true;
}

void announced_nodes::add_fake(const std::string& id, const std::string& site, std::int64_t site_id,
                               int port) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& n = nodes_[id];
  n = node{id, site, site_id, port, true, nullptr};
  beat(n);
}

void announced_nodes::set_beating(const std::string& id, bool on) {
  std::lock_guard<std::mutex> guard{mutex_};
  nodes_[id].beating = on;
}

void announced_nodes::kill(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& n = nodes_[id];
  n.beating = false;
  if (n.process) n.process->kill();
}

int announced_nodes::port(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  return nodes_[id].port;
}

void announced_nodes::beat(const node& n) {
  // Strictly newer than the last one, even within one millisecond: a router keeps only a
  // node's newer heartbeats.
  last_sent_ = std::max(system_clock{}.now(), last_sent_ + 1);
  auto hb = heartbeat_of(n.id, n.site, n.site_id, "http://127.0.0.1:" + std::to_string(n.port),
                         last_sent_);
  // A router that is down does not answer, and the next round tries again.
  for (int port : router_ports_()) post_heartbeat(port, hb, secret_);
}

}  // namespace ab::testing
