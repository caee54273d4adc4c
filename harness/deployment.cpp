#include "harness/deployment.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/child_process.hpp"
#include "harness/galera_cluster.hpp"
#include "harness/haproxy_process.hpp"
#include "harness/mariadb_server.hpp"
#include "harness/server_process.hpp"

namespace ab::harness {

namespace {

using json = nlohmann::json;

/// The credential every simulated BMC accepts, as the nodes read it from their environment.
constexpr const char* credential_variable = "AB_BMC_DEPLOYMENT";

/// The actions of a cluster of the sample map (config/cluster-map.sample.json).
std::string sample_actions(const std::string& cluster) {
  if (cluster == "build") return R"(["reimage"])";
  if (cluster == "discover") return R"(["discover", "build"])";
  return R"(["*"])";
}

std::string random_secret() {
  static const char hex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 64; ++i) out += hex[rd() % 16];
  return out;
}

}  // namespace

struct deployment::site_state {
  site_spec spec;
  std::string dir;
  std::string store;
  std::unique_ptr<mariadb_server> mariadb;
  std::unique_ptr<galera_cluster> galera;
  std::unique_ptr<server_process> bmcsim;
  std::string map_file;
  std::map<std::string, int> next_index;
};

struct deployment::node_state {
  std::string id;
  std::string site;
  std::string cluster;
  std::unique_ptr<server_process> process;
  /// The current process's log, and how many processes were started under this id.
  std::string log;
  int starts = 0;
};

std::string host_name(const std::string& site, std::size_t n) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%04zu", n);
  return site + "-h" + digits;
}

deployment::deployment(deployment_spec spec) : spec_(std::move(spec)) {
  dir_ = spec_.dir;
  if (dir_.empty()) {
    auto tmpl = (std::filesystem::temp_directory_path() / "ab-deployment-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      fail("cannot make a directory under " + std::filesystem::temp_directory_path().string());
      return;
    }
    dir_ = tmpl;
    own_dir_ = !spec_.keep_dir;
  }
  std::filesystem::create_directories(dir_);
  // Galera's mariadbd runs as `mysql`: every parent of its directory must be traversable.
  ::chmod(dir_.c_str(), 0755);
  if (spec_.haproxy && spec_.routers != 2) {
    fail("HAProxy's sample config names exactly 2 routers");
    return;
  }
  ::setenv(credential_variable, "admin:password", 1);
  secret_file_ = write_secret_file(dir_, random_secret());
  for (int i = 0; i < spec_.routers; ++i) {
    router_ports_.push_back(free_port(SOCK_STREAM));
    routers_.emplace_back();
    if (!start_router_process(i)) return;
  }
  // The slow part of each private MariaDB (initialising its data) for all sites at once; the
  // servers themselves start on this thread, which keeps them.
  {
    std::vector<std::future<bool>> installs;
    for (const auto& s : spec_.sites)
      if (s.database == site_database::mariadb) {
        auto where = dir_ + "/" + s.name + "/mariadb";
        std::filesystem::create_directories(where);
        installs.push_back(
            std::async(std::launch::async, [where] { return mariadb_server::install(where); }));
      }
    for (auto& i : installs) i.get();
  }
  // HAProxy before the nodes, so that they can be told to have installers call back through it
  // (`callbacks_through_entry`); it sees the routers up once they see the nodes.
  if (spec_.haproxy) {
    auto addresses = router_addresses();
    std::filesystem::create_directories(dir_ + "/haproxy");
    lb_ = std::make_unique<haproxy_process>(
        spec_.source_dir + "/deploy/haproxy/haproxy.cfg",
        std::map<std::string, std::string>{{"AB_ROUTER1", addresses[0]},
                                           {"AB_ROUTER2", addresses[1]}},
        dir_ + "/haproxy");
    if (!lb_->ok()) {
      fail("haproxy did not start: " + lb_->output());
      return;
    }
  }
  for (auto& s : spec_.sites)
    if (!start_site(s)) return;
  if (!wait_for_routers(std::chrono::seconds(60))) return;
  if (spec_.haproxy) {
    for (const auto* r : {"router1", "router2"})
      if (!poll_until([&] { return lb_->server_status("routers", r) == "UP"; },
                      std::chrono::seconds(30))) {
        fail(std::string{"HAProxy does not see "} + r + " up: " + lb_->admin("show stat"));
        return;
      }
  }
  for (const auto& s : sites_)
    if (!register_hosts(*s)) return;
}

deployment::~deployment() {
  stop();
  if (own_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool deployment::fail(std::string why) {
  error_ = std::move(why);
  return false;
}

deployment::site_state* deployment::find_site(const std::string& name) const {
  for (const auto& s : sites_)
    if (s->spec.name == name) return s.get();
  return nullptr;
}

bool deployment::start_site(site_spec& spec) {
  auto s = std::make_unique<site_state>();
  s->spec = spec;
  s->dir = dir_ + "/" + spec.name;
  std::filesystem::create_directories(s->dir);
  ::chmod(s->dir.c_str(), 0755);
  switch (spec.database) {
    case site_database::sqlite:
      s->store = "sqlite:" + s->dir + "/site.db";
      break;
    case site_database::mariadb:
      s->mariadb = std::make_unique<mariadb_server>(s->dir + "/mariadb");
      if (!s->mariadb->ok())
        return fail("site " + spec.name + ": MariaDB did not start: " + s->mariadb->output());
      s->store = s->mariadb->url();
      break;
    case site_database::galera: {
      galera_options o;
      o.source_dir = spec_.source_dir;
      o.dir = s->dir + "/galera";
      s->galera = std::make_unique<galera_cluster>(o);
      if (!s->galera->ok())
        return fail("site " + spec.name + ": Galera did not start: " + s->galera->output());
      s->store = s->galera->url();
      break;
    }
  }
  std::vector<std::string> sim{
      "--port", "0", "--hosts", std::to_string(spec.hosts), "--host-prefix", spec.name + "-h"};
  sim.insert(sim.end(), spec.bmcsim_args.begin(), spec.bmcsim_args.end());
  s->bmcsim = std::make_unique<server_process>(spec_.binary_dir + "/ab-bmcsim", sim,
                                               s->dir + "/bmcsim.log");
  if (!s->bmcsim->ok())
    return fail("site " + spec.name + ": ab-bmcsim did not start: " + s->bmcsim->output());

  // The site's map, stored in its database by the first node that starts (a file read once).
  json clusters = json::object();
  if (spec.clusters.empty()) {
    for (const auto& [cluster, count] : spec.nodes)
      clusters[cluster] = {{"actions", json::parse(sample_actions(cluster))}};
  } else {
    for (const auto& [cluster, actions] : spec.clusters)
      clusters[cluster] = {{"actions", json::parse(actions, nullptr, false)}};
  }
  json members = json::object();
  for (const auto& [cluster, count] : spec.nodes)
    for (int i = 1; i <= count; ++i)
      members[spec.name + "-" + cluster + "-" + std::to_string(i)] = cluster;
  auto fallback = clusters.contains("others") ? "others" : clusters.begin().key();
  s->map_file = s->dir + "/cluster-map.json";
  std::ofstream{s->map_file} << json{
      {"clusters", clusters},
      {"nodes", members},
      {"default_cluster", fallback}}.dump(1);
  auto* site = s.get();
  sites_.push_back(std::move(s));
  // One at a time: the first stores the map before the others read it.
  for (const auto& [cluster, count] : spec.nodes)
    for (int i = 1; i <= count; ++i) {
      auto n = std::make_unique<node_state>();
      n->id = spec.name + "-" + cluster + "-" + std::to_string(i);
      n->site = spec.name;
      n->cluster = cluster;
      site->next_index[cluster] = i + 1;
      auto* node = n.get();
      nodes_[n->id] = std::move(n);
      if (!start_node(*node)) return false;
    }
  return true;
}

std::vector<std::string> deployment::node_args(const node_state& n) const {
  const auto* s = find_site(n.site);
  std::string routers;
  for (const auto& a : router_addresses())
    routers += (routers.empty() ? "" : ",") + ("http://" + a);
  std::vector<std::string> args{"--node-id",
                                n.id,
                                "--site",
                                n.site,
                                "--site-id",
                                std::to_string(s->spec.id),
                                "--listen",
                                "127.0.0.1:0",
                                "--store",
                                s->store,
                                "--bmc-allow-loopback",
                                "1",
                                "--credentials-dir",
                                s->dir + "/credentials",
                                "--routers",
                                routers,
                                "--heartbeat-secret-file",
                                secret_file_,
                                "--router-heartbeat-interval-ms",
                                std::to_string(spec_.heartbeat_interval_ms),
                                "--trusted-routers",
                                "127.0.0.1",
                                "--cluster-map",
                                s->map_file,
                                "--cluster-map-source",
                                "database"};
  if (spec_.callbacks_through_entry && port() != 0) {
    args.push_back("--callback-base");
    args.push_back(url());
  }
  args.insert(args.end(), s->spec.node_args.begin(), s->spec.node_args.end());
  return args;
}

bool deployment::start_node(node_state& n) {
  const auto* s = find_site(n.site);
  std::filesystem::create_directories(s->dir + "/credentials");
  ::chmod((s->dir + "/credentials").c_str(), 0700);
  if (n.process) n.process->kill();
  // Twice at most: on a loaded machine a start can miss the listening deadline. Each process
  // writes a log of its own (`node-ID.N.log`): a restart keeps its predecessor's.
  for (int attempt = 1; attempt <= 2; ++attempt) {
    n.log = dir_ + "/node-" + n.id + "." + std::to_string(++n.starts) + ".log";
    n.process =
        std::make_unique<server_process>(spec_.binary_dir + "/ab-node", node_args(n), n.log);
    if (n.process->ok()) return true;
    std::fprintf(stderr, "deployment: node %s did not start (attempt %d, exit code %d)\n",
                 n.id.c_str(), attempt, n.process->early_exit_code());
  }
  return fail("node " + n.id + " did not start (exit code " +
              std::to_string(n.process->early_exit_code()) + "): " + n.process->output());
}

bool deployment::start_router_process(int i) {
  std::vector<std::string> args{"--listen",
                                "127.0.0.1:" + std::to_string(router_ports_[i]),
                                "--heartbeat-secret-file",
                                secret_file_,
                                "--trusted-proxies",
                                "127.0.0.1"};
  args.insert(args.end(), spec_.router_args.begin(), spec_.router_args.end());
  auto& r = routers_[static_cast<std::size_t>(i)];
  if (r) r->kill();
  r = std::make_unique<server_process>(spec_.binary_dir + "/ab-router", args,
                                       dir_ + "/router-" + std::to_string(i) + ".log");
  if (!r->ok()) return fail("router " + std::to_string(i) + " did not start: " + r->output());
  return true;
}

bool deployment::register_hosts(const site_state& s) {
  auto nodes = this->nodes(s.spec.name);
  if (nodes.empty()) return true;
  int port = node_port(nodes.front());
  auto endpoint = "http://127.0.0.1:" + std::to_string(s.bmcsim->port()) + "/bmc/";
  // In pieces, so that each body stays well under the API's limit.
  constexpr std::size_t piece = 500;
  for (std::size_t from = 0; from < s.spec.hosts; from += piece) {
    json hosts = json::array();
    for (std::size_t n = from; n < std::min(s.spec.hosts, from + piece); ++n) {
      auto name = host_name(s.spec.name, n);
      hosts.push_back({{"name", name},
                       {"site", s.spec.name},
                       {"bmc_endpoint", endpoint + name},
                       {"credential_ref", std::string{"env:"} + credential_variable}});
    }
    auto r = http_exchange(port, "POST", "/v1/hosts", json{{"hosts", hosts}}.dump(),
                           spec_.api_auth + "Content-Type: application/json\r\n");
    if (r.status != 201)
      return fail("registering site " + s.spec.name + "'s hosts: HTTP " + std::to_string(r.status) +
                  " " + r.body.substr(0, 300));
  }
  return true;
}

int deployment::port() const {
  if (lb_) return lb_->port();
  return router_port(0);
}

std::string deployment::url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

int deployment::router_port(int i) const {
  if (i < 0 || i >= static_cast<int>(routers_.size())) return 0;
  const auto& r = routers_[static_cast<std::size_t>(i)];
  return r && r->pid() > 0 ? r->port() : 0;
}

std::vector<std::string> deployment::router_addresses() const {
  std::vector<std::string> out;
  for (int p : router_ports_) out.push_back("127.0.0.1:" + std::to_string(p));
  return out;
}

std::string deployment::store_url(const std::string& site) const {
  const auto* s = find_site(site);
  return s ? s->store : "";
}

int deployment::bmcsim_port(const std::string& site) const {
  const auto* s = find_site(site);
  return s && s->bmcsim ? s->bmcsim->port() : 0;
}

std::vector<std::string> deployment::hosts(const std::string& site) const {
  std::vector<std::string> out;
  if (const auto* s = find_site(site))
    for (std::size_t n = 0; n < s->spec.hosts; ++n) out.push_back(host_name(site, n));
  return out;
}

std::vector<std::string> deployment::nodes(const std::string& site) const {
  std::vector<std::string> out;
  for (const auto& [id, n] : nodes_)
    if (n->site == site) out.push_back(id);
  return out;
}

std::string deployment::cluster_of(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? "" : it->second->cluster;
}

std::string deployment::site_of(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? "" : it->second->site;
}

int deployment::node_port(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second->process || it->second->process->pid() <= 0) return 0;
  return it->second->process->port();
}

pid_t deployment::node_pid(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() || !it->second->process ? -1 : it->second->process->pid();
}

bool deployment::node_running(const std::string& id) const {
  return node_pid(id) > 0;
}

galera_cluster* deployment::galera(const std::string& site) const {
  const auto* s = find_site(site);
  return s ? s->galera.get() : nullptr;
}

std::string deployment::node_log(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? "" : it->second->log;
}

std::vector<process_info> deployment::processes() const {
  std::vector<process_info> out;
  if (lb_ && lb_->pid() > 0) out.push_back({"haproxy", lb_->pid()});
  for (std::size_t i = 0; i < routers_.size(); ++i)
    if (routers_[i] && routers_[i]->pid() > 0)
      out.push_back({"router-" + std::to_string(i), routers_[i]->pid()});
  for (const auto& [id, n] : nodes_)
    if (n->process && n->process->pid() > 0) out.push_back({"node " + id, n->process->pid()});
  for (const auto& s : sites_) {
    if (s->bmcsim && s->bmcsim->pid() > 0)
      out.push_back({"bmcsim " + s->spec.name, s->bmcsim->pid()});
    if (s->mariadb && s->mariadb->pid() > 0)
      out.push_back({"mariadb " + s->spec.name, s->mariadb->pid()});
    if (s->galera)
      for (int k = 1; k <= 3; ++k) {
        auto text = read_text(s->galera->dir() + "/node" + std::to_string(k) + "/mysqld.pid");
        if (!text.empty())
          out.push_back({"galera " + s->spec.name + " node" + std::to_string(k),
                         static_cast<pid_t>(std::atoi(text.c_str()))});
      }
  }
  return out;
}

bool deployment::kill_node(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second->process || it->second->process->pid() <= 0)
    return fail("node " + id + " is not running");
  it->second->process->kill();
  return true;
}

bool deployment::restart_node(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return fail("no node " + id);
  return start_node(*it->second);
}

std::string deployment::add_node(const std::string& site, const std::string& cluster) {
  auto* s = find_site(site);
  if (!s) {
    fail("no site " + site);
    return "";
  }
  auto& next = s->next_index[cluster];
  if (next == 0) next = 1;
  auto id = site + "-" + cluster + "-" + std::to_string(next++);
  // A node the map does not name lands in the default cluster: place it first, through a
  // running node of the site (a move of a node not yet known is allowed).
  for (const auto& other : nodes(site)) {
    int port = node_port(other);
    if (port == 0) continue;
    auto r = http_exchange(port, "POST", "/v1/cluster-map/moves",
                           json{{"node", id}, {"cluster", cluster}}.dump(),
                           spec_.api_auth + "Content-Type: application/json\r\n");
    if (r.status != 200) {
      fail("placing " + id + " in " + cluster + ": HTTP " + std::to_string(r.status) + " " +
           r.body);
      return "";
    }
    break;
  }
  auto n = std::make_unique<node_state>();
  n->id = id;
  n->site = site;
  n->cluster = cluster;
  auto* node = n.get();
  nodes_[id] = std::move(n);
  return start_node(*node) ? id : "";
}

bool deployment::signal_node(const std::string& id, int sig) {
  auto pid = node_pid(id);
  if (pid <= 0) return fail("node " + id + " is not running");
  return ::kill(pid, sig) == 0 || fail("kill(" + std::to_string(pid) + ") failed");
}

bool deployment::kill_router(int i) {
  if (router_port(i) == 0) return fail("router " + std::to_string(i) + " is not running");
  routers_[static_cast<std::size_t>(i)]->kill();
  return true;
}

bool deployment::restart_router(int i) {
  if (i < 0 || i >= static_cast<int>(routers_.size()))
    return fail("no router " + std::to_string(i));
  return start_router_process(i);
}

bool deployment::kill_database(const std::string& site, int n) {
  auto* s = find_site(site);
  if (!s) return fail("no site " + site);
  if (s->galera) return s->galera->kill(n) || fail("killing Galera node " + std::to_string(n));
  if (s->mariadb) {
    s->mariadb->kill();
    return true;
  }
  return fail("site " + site + " runs on SQLite: no database server to kill");
}

bool deployment::restart_database(const std::string& site, int n) {
  auto* s = find_site(site);
  if (!s) return fail("no site " + site);
  if (s->galera)
    return s->galera->restart(n) ||
           fail("restarting Galera node " + std::to_string(n) + ": " + s->galera->output());
  if (s->mariadb)
    return s->mariadb->restart() || fail("restarting MariaDB: " + s->mariadb->output());
  return true;
}

bool deployment::wait_for_routers(std::chrono::milliseconds limit) {
  std::size_t running = 0;
  for (const auto& [id, n] : nodes_)
    if (n->process && n->process->pid() > 0) ++running;
  for (int i = 0; i < static_cast<int>(routers_.size()); ++i) {
    int port = router_port(i);
    if (port == 0) continue;
    int live = 0;
    bool seen = poll_until(
        [&] {
          auto doc = json::parse(http_exchange(port, "GET", "/v1/cluster").body, nullptr, false);
          live = 0;
          if (doc.is_object() && doc["sites"].is_array())
            for (const auto& site : doc["sites"]) live += site.value("live_nodes", 0);
          return live == static_cast<int>(running);
        },
        limit);
    if (!seen)
      return fail("router " + std::to_string(i) + " sees " + std::to_string(live) +
                  " live nodes, not " + std::to_string(running));
  }
  return true;
}

void deployment::stop() {
  // Nodes first, all at once: they drain while their database and BMCs are still there.
  for (auto& [id, n] : nodes_)
    if (n->process) n->process->signal(SIGTERM);
  for (auto& [id, n] : nodes_)
    if (n->process) n->process->terminate(20);
  if (lb_) lb_->stop();
  for (auto& r : routers_)
    if (r) r->terminate(10);
  for (auto& s : sites_) {
    if (s->bmcsim) s->bmcsim->terminate(10);
    if (s->mariadb) s->mariadb->stop();
    if (s->galera) s->galera->stop();
  }
}

}  // namespace ab::harness
