// ab-bench-throughput: the original system's published performance test, reproduced (issue
// 14). Two nodes share one site database (a private MariaDB) behind ab-router (HAProxy and a
// second router with `--haproxy`), against an ab-bmcsim fleet with zero simulated latency.
// Clients submit reimages of their own hosts in batches of ~100, in parallel, and submit again
// as their hosts come back; a server counts as processed when its reimage request reaches
// `succeeded`. After a ramp, the reimages that succeed within a fixed time are counted: first
// alone, then while other clients bombard the API with reads. The nodes run with the settings
// a user gets by default, but for what the deployment needs (store, site, routers, BMCs on
// loopback) and one site policy: the power-on pacing of the site's power feeds
// (`pacing-power-ons-per-second`, 20 by default, which would cap any site at 10 reimages/s,
// two power-ons each) is off, as the simulated hosts draw no power (docs/benchmarks.md).
//
// Prints, per phase, the reimages per second and per hour, the API's answers, each process's
// CPU (cores) and memory, and the database's statements, commits and waits per reimage; at
// the end `e2e throughput: servers_per_day=N bombarded_servers_per_day=M errors_5xx=E`. Exits
// non-zero on a 5xx, a failed reimage or a deployment that did not come up.

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/api_client.hpp"
#include "bench/throughput_load.hpp"
#include "config/node_config.hpp"
#include "harness/child_process.hpp"
#include "harness/deployment.hpp"
#include "storage/detail/pools.hpp"

namespace {

using namespace ab;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

struct options {
  double seconds = 30;
  double ramp_seconds = 5;
  int hosts = 3000;
  int batch = 100;
  int clients = 8;
  int nodes = 2;
  bool haproxy = false;
  double bombard_rate = 2000;
  int bombard_connections = 64;
  std::vector<std::string> node_options;
  bool keep = false;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: ab-bench-throughput [--seconds S] [--ramp-seconds R] [--hosts H] [--batch B]\n"
      "         [--clients C] [--nodes N] [--haproxy]\n"
      "         [--bombard-rate R] [--bombard-connections K] [--node-option NAME=VALUE]... "
      "[--keep]\n"
      "  --seconds S            each measured phase (30)\n"
      "  --ramp-seconds R       before each measured phase (5)\n"
      "  --hosts H              the fleet (3000), all discovered and built first\n"
      "  --batch B              hosts per submission (100)\n"
      "  --clients C            submitting clients, each with its own hosts (8)\n"
      "  --bombard-rate R       the bombard's API reads per second, open loop (2000)\n"
      "  --node-option N=V      an extra node option (e.g. --node-option claim-batch=32)\n"
      "  --keep                 keep the run's directory (logs, database)\n");
  return 2;
}

/// The CPU time the whole machine spent busy so far, in seconds (all cores).
double machine_busy_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string cpu;
  long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + sys + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The server's status counters that tell what the work cost the database.
const std::vector<std::string>& db_counter_names() {
  static const std::vector<std::string> names{"Questions",
                                              "Com_commit",
                                              "Com_rollback",
                                              "Com_select",
                                              "Com_update",
                                              "Com_insert",
                                              "Com_delete",
                                              "Com_set_option",
                                              "Com_stmt_prepare",
                                              "Innodb_row_lock_waits",
                                              "Innodb_row_lock_time",
                                              "Innodb_data_fsyncs",
                                              "Innodb_rows_read",
                                              "Handler_read_rnd_next",
                                              "Innodb_deadlocks"};
  return names;
}

std::map<std::string, double> db_counters(storage::detail::connection_pool& db) {
  std::map<std::string, double> out;
  try {
    auto c = db.acquire();
    c->autocommit();
    auto r = c->query("SHOW GLOBAL STATUS", {});
    while (r->next()) {
      auto name = r->text(0);
      for (const auto& n : db_counter_names())
        if (n == name) out[n] = std::strtod(r->text(1).c_str(), nullptr);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab-bench-throughput: SHOW GLOBAL STATUS: %s\n", e.what());
  }
  return out;
}

/// What a phase's start or end looked like.
struct snapshot {
  steady::time_point at;
  std::int64_t wall_ms = 0;
  double machine = 0;
  std::map<std::string, double> cpu;
  std::map<std::string, double> db;
  std::int64_t calls = 0, shed = 0, errors_5xx = 0, no_answer = 0, other = 0;
};

/// The deployment's site: its name is also its hosts' prefix (`dc1-h0000` ...).
constexpr const char* site_name = "dc1";

/// The deployment's processes under names fit for `key=value` output (`node_dc1-all-1`).
std::vector<harness::process_info> named_processes(const harness::deployment& d) {
  auto out = d.processes();
  for (auto& p : out) std::replace(p.name.begin(), p.name.end(), ' ', '_');
  return out;
}

snapshot take(const harness::deployment& site, storage::detail::connection_pool& db,
              const bench::call_counts& calls) {
  snapshot s;
  s.at = steady::now();
  s.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  s.machine = machine_busy_seconds();
  for (const auto& p : named_processes(site)) s.cpu[p.name] = harness::cpu_seconds(p.pid);
  s.cpu["bench"] = harness::cpu_seconds(getpid());
  s.db = db_counters(db);
  s.calls = calls.calls;
  s.shed = calls.shed;
  s.errors_5xx = calls.errors_5xx;
  s.no_answer = calls.no_answer;
  s.other = calls.other;
  return s;
}

/// A measured phase's figures.
struct phase_result {
  double per_s = 0;
  std::int64_t errors_5xx = 0;
  std::int64_t failed = 0;
};

phase_result report(const std::string& phase, const harness::deployment& site,
                    const bench::reimage_load& load, const snapshot& a, const snapshot& b,
                    const bench::call_counts& bombard_a, const bench::call_counts* bombard) {
  auto seconds = std::chrono::duration<double>(b.at - a.at).count();
  auto [ok, failed] = load.finished_between(a.wall_ms, b.wall_ms);
  phase_result out;
  out.per_s = static_cast<double>(ok) / seconds;
  out.failed = failed;
  out.errors_5xx = b.errors_5xx - a.errors_5xx;
  std::printf(
      "throughput phase=%s: seconds=%.1f reimages=%lld reimages_per_s=%.1f "
      "servers_per_hour=%.0f failed=%lld in_flight=%lld submit_calls=%lld shed=%lld "
      "errors_5xx=%lld no_answer=%lld other=%lld (all runs: %s)\n",
      phase.c_str(), seconds, static_cast<long long>(ok), out.per_s, out.per_s * 3600,
      static_cast<long long>(failed), static_cast<long long>(load.in_flight()),
      static_cast<long long>(b.calls - a.calls), static_cast<long long>(b.shed - a.shed),
      static_cast<long long>(out.errors_5xx), static_cast<long long>(b.no_answer - a.no_answer),
      static_cast<long long>(b.other - a.other), load.calls().failures().c_str());
  if (bombard) {
    auto n = bombard->calls - bombard_a.calls;
    std::printf(
        "throughput bombard phase=%s: calls=%lld calls_per_s=%.0f shed=%lld errors_5xx=%lld "
        "no_answer=%lld other=%lld (all runs: %s)\n",
        phase.c_str(), static_cast<long long>(n), static_cast<double>(n) / seconds,
        static_cast<long long>(bombard->shed - bombard_a.shed),
        static_cast<long long>(bombard->errors_5xx - bombard_a.errors_5xx),
        static_cast<long long>(bombard->no_answer - bombard_a.no_answer),
        static_cast<long long>(bombard->other - bombard_a.other), bombard->failures().c_str());
    out.errors_5xx += bombard->errors_5xx - bombard_a.errors_5xx;
  }
  std::ostringstream cpu;
  cpu << "throughput cpu phase=" << phase
      << ": machine_busy_cores=" << (b.machine - a.machine) / seconds;
  for (const auto& [name, t] : b.cpu) cpu << ' ' << name << '=' << (t - a.cpu.at(name)) / seconds;
  std::printf("%s (cores)\n", cpu.str().c_str());
  // What a reimage costs in CPU, process by process: on a machine of its own, the deployment
  // could make at most (cores x 1000 / total) reimages a second.
  if (ok > 0) {
    std::ostringstream per;
    double total = 0;
    per << "throughput cpu_ms_per_reimage phase=" << phase << ":";
    for (const auto& [name, t] : b.cpu) {
      auto ms = 1000 * (t - a.cpu.at(name)) / static_cast<double>(ok);
      if (name != "bench") total += ms;
      per << ' ' << name << '=' << ms;
    }
    per << " deployment_total=" << total
        << " two_core_bound_per_s=" << (total > 0 ? 2000 / total : 0);
    std::printf("%s\n", per.str().c_str());
  }
  std::ostringstream mem;
  mem << "throughput memory phase=" << phase << ":";
  for (const auto& p : named_processes(site))
    mem << ' ' << p.name << "_rss_mb=" << harness::rss_mb(p.pid);
  std::printf("%s\n", mem.str().c_str());
  if (ok > 0 && !b.db.empty()) {
    std::ostringstream db;
    db << "throughput db phase=" << phase << " per reimage:";
    for (const auto& n : db_counter_names())
      if (b.db.count(n) && a.db.count(n))
        db << ' ' << n << '=' << (b.db.at(n) - a.db.at(n)) / static_cast<double>(ok);
    std::printf("%s\n", db.str().c_str());
  }
  std::fflush(stdout);
  return out;
}

/// Names of the fleet's hosts in lifecycle state `state`.
std::vector<std::string> hosts_in(storage::detail::connection_pool& db, const std::string& state) {
  std::vector<std::string> out;
  auto c = db.acquire();
  c->autocommit();
  auto r = c->query("SELECT name FROM hosts WHERE site = ? AND lifecycle_state = ? ORDER BY name",
                    {std::string{site_name}, state});
  while (r->next()) out.push_back(r->text(0));
  return out;
}

std::int64_t active_requests(storage::detail::connection_pool& db) {
  auto c = db.acquire();
  c->autocommit();
  auto r =
      c->query("SELECT COUNT(*) FROM requests WHERE site = ? AND state IN ('queued', 'running')",
               {std::string{site_name}});
  return r->next() ? r->i64(0) : -1;
}

/// Submits `action` for `hosts` in bulks of 500 and waits until none is active; false if a
/// call failed or it took longer than `limit`.
bool run_all(bench::api_client& api, storage::detail::connection_pool& db,
             const std::string& action, const std::vector<std::string>& hosts,
             std::chrono::seconds limit) {
  if (hosts.empty()) return true;
  auto t0 = steady::now();
  for (std::size_t at = 0; at < hosts.size(); at += 500) {
    json names = json::array();
    for (std::size_t i = at; i < std::min(hosts.size(), at + 500); ++i) names.push_back(hosts[i]);
    json body{
        {"action", action}, {"hosts", names}, {"site", site_name}, {"confirm_hosts", names.size()}};
    auto a = api.post("/v1/requests", body.dump());
    if (a.status != 202) {
      std::fprintf(stderr, "ab-bench-throughput: %s -> %ld %s\n", action.c_str(), a.status,
                   a.body.c_str());
      return false;
    }
  }
  while (active_requests(db) != 0) {
    if (steady::now() - t0 > limit) {
      std::fprintf(stderr, "ab-bench-throughput: %s did not finish in %lld s\n", action.c_str(),
                   static_cast<long long>(limit.count()));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto s = std::chrono::duration<double>(steady::now() - t0).count();
  std::printf("throughput warm-up: action=%s hosts=%zu seconds=%.1f per_s=%.1f\n", action.c_str(),
              hosts.size(), s, static_cast<double>(hosts.size()) / s);
  std::fflush(stdout);
  return true;
}

/// Brings every host of the fleet (registered by the deployment) in service: discover, then
/// build.
bool prepare_fleet(const harness::deployment& site, storage::detail::connection_pool& db) {
  bench::api_client api{site.port()};
  if (active_requests(db) != 0) {
    std::fprintf(stderr, "ab-bench-throughput: the new site holds active requests\n");
    return false;
  }
  const auto limit = std::chrono::seconds(600);
  return run_all(api, db, "discover", hosts_in(db, "new"), limit) &&
         run_all(api, db, "build", hosts_in(db, "discovered"), limit) &&
         run_all(api, db, "reimage", hosts_in(db, "provisioning_failed"), limit);
}

int run(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds")
      o.seconds = std::stod(value());
    else if (a == "--ramp-seconds")
      o.ramp_seconds = std::stod(value());
    else if (a == "--hosts")
      o.hosts = std::stoi(value());
    else if (a == "--batch")
      o.batch = std::stoi(value());
    else if (a == "--clients")
      o.clients = std::stoi(value());
    else if (a == "--nodes")
      o.nodes = std::stoi(value());
    else if (a == "--haproxy")
      o.haproxy = true;
    else if (a == "--bombard-rate")
      o.bombard_rate = std::stod(value());
    else if (a == "--bombard-connections")
      o.bombard_connections = std::stoi(value());
    else if (a == "--node-option") {
      // NAME=VALUE, as ab-bench-api takes it.
      auto v = value();
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return usage();
      o.node_options.push_back("--" + v.substr(0, eq));
      o.node_options.push_back(v.substr(eq + 1));
    } else if (a == "--keep")
      o.keep = true;
    else
      return usage();
  }
  if (o.seconds <= 0 || o.ramp_seconds < 0 || o.hosts < 1 || o.batch < 1 || o.clients < 1 ||
      o.nodes < 1 || o.bombard_rate <= 0 || o.bombard_connections < 1 ||
      o.hosts < o.batch * o.clients || (o.haproxy && o.nodes < 1))
    return usage();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  // One site on a private MariaDB with a zero-latency fleet (BMC operations and the installer
  // take no time of their own); one router, or two behind HAProxy. The nodes' options are the
  // defaults but for the site policy that paces power-ons (docs/benchmarks.md) and the
  // caller's `--node-option`s.
  harness::deployment_spec spec;
  spec.binary_dir = std::filesystem::path(argv[0]).parent_path().string();
  spec.source_dir = AB_SOURCE_DIR;
  spec.keep_dir = o.keep;
  spec.routers = o.haproxy ? 2 : 1;
  spec.haproxy = o.haproxy;
  // The nodes announce themselves as often as a node does by default.
  spec.heartbeat_interval_ms = config::node_config{}.router_heartbeat_interval_ms;
  harness::site_spec s;
  s.name = site_name;
  s.id = 1;
  s.database = harness::site_database::mariadb;
  s.hosts = static_cast<std::size_t>(o.hosts);
  s.bmcsim_args = {"--time-scale", "0", "--seed", "1", "--install-ms", "0"};
  s.nodes = {{"all", o.nodes}};
  s.node_args = {"--pacing-power-ons-per-second", "0"};
  s.node_args.insert(s.node_args.end(), o.node_options.begin(), o.node_options.end());
  spec.sites.push_back(std::move(s));
  harness::deployment site{spec};
  if (!site.ok()) {
    std::fprintf(stderr, "ab-bench-throughput: %s\n", site.error().c_str());
    return 1;
  }
  std::printf("throughput deployment: %s\n", site.dir().c_str());
  std::fflush(stdout);
  auto target = storage::parse_mysql_url(site.store_url(site_name));
  if (!target) return 1;
  auto db = storage::detail::make_mysql_pool(*target, 2);
  auto t_prepare = steady::now();
  if (!prepare_fleet(site, *db)) return 1;
  std::printf(
      "throughput set-up: nodes=%d routers=%d haproxy=%d hosts=%d clients=%d batch=%d "
      "seconds=%.0f prepare_seconds=%.1f\n",
      o.nodes, o.haproxy ? 2 : 1, o.haproxy ? 1 : 0, o.hosts, o.clients, o.batch, o.seconds,
      std::chrono::duration<double>(steady::now() - t_prepare).count());
  std::fflush(stdout);

  auto fleet = site.hosts(site_name);
  bench::reimage_load load{fleet, o.clients, o.batch, site.port(),
                           storage::detail::make_mysql_pool(*target, 1)};
  load.start();
  auto pause = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  bench::call_counts no_bombard;

  // Alone.
  pause(o.ramp_seconds);
  auto a = take(site, *db, load.calls());
  pause(o.seconds);
  auto b = take(site, *db, load.calls());
  auto plain = report("plain", site, load, a, b, no_bombard, nullptr);

  // Bombarded: reads at a fixed rate from other clients, through the same front.
  bench::call_counts bombard;
  std::thread bombarder{[&] {
    bench::open_loop_options lo;
    lo.port = static_cast<std::uint16_t>(site.port());
    lo.rate = o.bombard_rate;
    lo.seconds = o.ramp_seconds + o.seconds + 1;
    lo.connections = static_cast<std::size_t>(o.bombard_connections);
    lo.grace_seconds = 10;
    auto ids = load.recent_ids();
    bench::run_open_loop(
        lo,
        [&](std::size_t i) {
          if (i % 1000 == 0) ids = load.recent_ids();
          return bench::bombard_call(i, ids, fleet);
        },
        [&](const bench::load_reply& r) { bombard.count(r.status); });
  }};
  pause(o.ramp_seconds);
  auto c = take(site, *db, load.calls());
  auto bombard_c = std::make_unique<bench::call_counts>();
  bombard_c->calls = bombard.calls.load();
  bombard_c->shed = bombard.shed.load();
  bombard_c->errors_5xx = bombard.errors_5xx.load();
  bombard_c->no_answer = bombard.no_answer.load();
  bombard_c->other = bombard.other.load();
  pause(o.seconds);
  auto d = take(site, *db, load.calls());
  auto hit = report("bombarded", site, load, c, d, *bombard_c, &bombard);
  bombarder.join();
  load.stop();

  auto errors = plain.errors_5xx + hit.errors_5xx;
  std::printf("throughput: servers_per_hour=%.0f bombarded_servers_per_hour=%.0f ratio=%.2f\n",
              plain.per_s * 3600, hit.per_s * 3600, plain.per_s > 0 ? hit.per_s / plain.per_s : 0);
  std::printf(
      "e2e throughput: servers_per_day=%.0f bombarded_servers_per_day=%.0f errors_5xx=%lld\n",
      plain.per_s * 86400, hit.per_s * 86400, static_cast<long long>(errors));
  std::fflush(stdout);
  site.stop();
  curl_global_cleanup();
  return errors == 0 && plain.failed == 0 && hit.failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab-bench-throughput: %s\n", e.what());
    return 2;
  }
}
