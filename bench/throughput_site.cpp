#include "bench/throughput_site.hpp"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/api_client.hpp"

namespace ab::bench {

namespace {

using json = nlohmann::json;

/// The fresh nodes the router on `port` routes to, all sites together.
int live_nodes(int port) {
  api_client c{port, 5000};
  auto a = c.get("/v1/cluster");
  auto doc = json::parse(a.body, nullptr, false);
  int n = 0;
  if (a.status == 200 && doc.is_object() && doc.contains("sites"))
    for (const auto& site : doc["sites"]) n += site.value("live_nodes", 0);
  return n;
}

}  // namespace

throughput_site::throughput_site(site_spec spec) : spec_(std::move(spec)) {
  std::filesystem::create_directories(spec_.dir);
  store_ = spec_.store;
  if (store_.empty()) {
    db_ = std::make_unique<harness::mariadb_server>((spec_.dir / "mariadb").string());
    if (!db_->ok()) {
      failure_ = "MariaDB did not start: " + db_->output();
      return;
    }
    store_ = db_->url();
  }
  // Zero simulated latency: BMC operations and the installer take no time of their own.
  bmcsim_ = std::make_unique<harness::server_process>(
      (spec_.bin / "ab-bmcsim").string(),
      std::vector<std::string>{"--port", "0", "--time-scale", "0", "--seed", "1", "--install-ms",
                               "0"},
      (spec_.dir / "bmcsim.log").string());
  if (!bmcsim_->ok()) {
    failure_ = "ab-bmcsim did not start: " + bmcsim_->output();
    return;
  }
  secret_file_ = (spec_.dir / "hb.secret").string();
  { std::ofstream{secret_file_} << "throughput-bench-heartbeat-secret\n"; }
  ::chmod(secret_file_.c_str(), 0600);
  std::ofstream{spec_.dir / "map.json"}
      << R"({"clusters": {"all": {"actions": ["*"]}}, "default_cluster": "all"})";
  if (!start_routers() || !start_nodes() || !wait_for_nodes()) return;
  if (!spec_.haproxy) return;
  lb_ = std::make_unique<harness::haproxy_process>(
      spec_.haproxy_template,
      std::map<std::string, std::string>{
          {"AB_ROUTER1", "127.0.0.1:" + std::to_string(routers_[0]->port())},
          {"AB_ROUTER2", "127.0.0.1:" + std::to_string(routers_[1]->port())}},
      (spec_.dir / "haproxy").string());
  if (!lb_->ok()) failure_ = "HAProxy did not start: " + lb_->output();
  // Both routers in service before the clients come.
  for (int i = 0; ok() && i < 300; ++i) {
    if (lb_->server_status("routers", "router1") == "UP" &&
        lb_->server_status("routers", "router2") == "UP")
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (ok()) failure_ = "HAProxy does not see both routers up: " + lb_->admin("show stat");
}

throughput_site::~throughput_site() {
  stop();
}

bool throughput_site::start_routers() {
  for (int i = 0; i < (spec_.haproxy ? 2 : 1); ++i) {
    auto name = "router" + std::to_string(i + 1);
    routers_.push_back(std::make_unique<harness::server_process>(
        (spec_.bin / "ab-router").string(),
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--heartbeat-secret-file",
                                 secret_file_},
        (spec_.dir / (name + ".log")).string()));
    if (!routers_.back()->ok()) {
      failure_ = name + " did not start: " + routers_.back()->output();
      return false;
    }
  }
  return true;
}

bool throughput_site::start_nodes() {
  std::string routers;
  for (const auto& r : routers_)
    routers +=
        (routers.empty() ? "" : ",") + std::string{"http://127.0.0.1:"} + std::to_string(r->port());
  for (int i = 0; i < spec_.nodes; ++i) {
    auto id = "n" + std::to_string(i + 1);
    // What the deployment needs: its store, site, routers and map; BMCs on loopback allowed
    // (the simulated fleet listens there).
    std::vector<std::string> args{"--node-id",
                                  id,
                                  "--site",
                                  "dc1",
                                  "--site-id",
                                  "1",
                                  "--store",
                                  store_,
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--handlers",
                                  "bmc",
                                  "--cluster-map",
                                  (spec_.dir / "map.json").string(),
                                  "--bmc-allow-loopback",
                                  "1",
                                  "--routers",
                                  routers,
                                  "--heartbeat-secret-file",
                                  secret_file_};
    args.insert(args.end(), spec_.node_options.begin(), spec_.node_options.end());
    nodes_.push_back(std::make_unique<harness::server_process>(
        (spec_.bin / "ab-node").string(), args, (spec_.dir / (id + ".log")).string()));
    if (!nodes_.back()->ok()) {
      failure_ = id + " did not start: " + nodes_.back()->output();
      return false;
    }
  }
  return true;
}

bool throughput_site::wait_for_nodes() {
  for (const auto& r : routers_) {
    bool seen = false;
    for (int i = 0; !seen && i < 300; ++i) {
      seen = live_nodes(r->port()) == spec_.nodes;
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!seen) {
      failure_ = "a router does not see the " + std::to_string(spec_.nodes) +
                 " nodes within 30 s: " + r->output();
      return false;
    }
  }
  return true;
}

int throughput_site::api_port() const {
  if (lb_) return lb_->port();
  return routers_.empty() ? 0 : routers_.front()->port();
}

std::vector<process_ref> throughput_site::processes() const {
  std::vector<process_ref> out;
  if (db_) out.push_back({"mariadb", db_->pid()});
  if (bmcsim_) out.push_back({"bmcsim", bmcsim_->pid()});
  for (std::size_t i = 0; i < routers_.size(); ++i)
    out.push_back({"router" + std::to_string(i + 1), routers_[i]->pid()});
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    out.push_back({"n" + std::to_string(i + 1), nodes_[i]->pid()});
  if (lb_) out.push_back({"haproxy", lb_->pid()});
  return out;
}

void throughput_site::stop() {
  if (lb_) lb_->stop();
  for (auto& n : nodes_) n->terminate(30);
  for (auto& r : routers_) r->stop();
  if (bmcsim_) bmcsim_->stop();
  if (db_) db_->stop();
}

}  // namespace ab::bench
