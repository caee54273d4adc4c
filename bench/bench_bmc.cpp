// ab-bench-bmc: BMC work through one ab-node against ab-bmcsim at zero simulated latency —
// power operations per second, complete reimages per second (power off, boot the installer,
// the installer's callback, boot from disk, verify), the BMC HTTP requests and logins each
// costs (counted by ab-bmcsim, `GET /sim/stats`), BMC operations in flight, and the node's
// memory and CPU. Starts both programs (from this binary's directory) as children.
//
// The figures are medians of `--runs` runs (3), each a few seconds long: a power phase of
// `--rounds` rounds (every host on, then off), the Redfish driver alone right after it (the
// same operations without node or queue, so that both see the same machine), and a reimage
// of every host. Before the reimage runs, one more on a fresh node, whose BMC sessions are
// cold: its logins (ab-bmcsim's count over that phase, per reimage) are what a reimage costs
// when no session is kept from earlier work, the case the target of at most one login per
// reimage is about (the later runs reuse its sessions and log in no more).

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/http_calls.hpp"
#include "bench/leftovers.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "storage/detail/pools.hpp"
#include "storage/store.hpp"

namespace {

using namespace ab;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

struct options {
  int hosts = 300;
  /// Power rounds per run (each: every host on, then off).
  int rounds = 4;
  /// Runs of each phase; the figures are their medians.
  int runs = 3;
  int workers = 32;
  /// The node's --claim-batch (the most jobs one claim of a pool takes); unset: the node's own
  /// default, so that the figures are those of a node as it is deployed.
  std::optional<int> claim_batch;
  std::string store;
};

/// POSTs `body` to the node's API; the HTTP status, 0 when the call failed.
long post(int port, const std::string& path, const std::string& body) {
  return bench::post_json(port, path, body, "ab-bench-bmc");
}

/// GETs `path` from `port` as JSON; null when the call failed.
json get_json(int port, const std::string& path) {
  auto a = bench::call(port, "GET", path);
  return a.status == 200 ? json::parse(a.body, nullptr, false) : json();
}

/// What ab-bmcsim counted so far: HTTP requests served and logins (sessions created).
struct bmc_counts {
  double requests = 0;
  double logins = 0;

  static bmc_counts of(int sim_port) {
    auto j = get_json(sim_port, "/sim/stats");
    if (!j.is_object()) return {};
    return {j.value("requests", 0.0), j.value("logins", 0.0)};
  }
};

std::string host_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-%05d", i);
  return buf;
}

/// Submits `action` for every host, in bulks of 500, each confirming its host count (a
/// destructive bulk call must, docs/safety.md).
bool submit_all(int port, const std::string& action, int hosts) {
  for (int at = 0; at < hosts; at += 500) {
    json list = json::array();
    for (int i = at; i < std::min(hosts, at + 500); ++i) list.push_back(host_name(i));
    json body{{"action", action}, {"hosts", list}, {"confirm_hosts", list.size()}};
    if (post(port, "/v1/requests", body.dump()) != 202) return false;
  }
  return true;
}

/// The Redfish driver alone (no node, no queue) on `threads` threads against the fleet's BMCs:
/// what the BMC layer can do when nothing else bounds it. One operation is what a power job
/// asks of the BMC: set the power (actors/bmc_handlers.cpp reads the state only when it
/// retries). `driver` is kept across runs, as the node keeps its sessions across jobs.
double driver_alone(bmc::redfish_driver& driver, int sim_port, int hosts, int threads, int rounds,
                    int run) {
  auto before = bmc_counts::of(sim_port);
  std::atomic<int> failures{0};
  auto t0 = steady::now();
  {
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads));
    for (int n = 0; n < threads; ++n)
      pool.emplace_back([&, n] {
        for (int r = 0; r < rounds; ++r)
          for (int i = n; i < hosts; i += threads) {
            bmc::target t;
            t.endpoint =
                "http://127.0.0.1:" + std::to_string(sim_port) + "/bmc/alone-" + host_name(i);
            t.user = "admin";
            t.password = "password";
            if (driver.set_power(t, r % 2 == 0 ? bmc::power_action::on : bmc::power_action::off))
              ++failures;
          }
      });
    for (auto& t : pool) t.join();
  }
  auto seconds = std::chrono::duration<double>(steady::now() - t0).count();
  auto after = bmc_counts::of(sim_port);
  double ops = static_cast<double>(hosts) * rounds;
  std::printf(
      "bmc driver alone run=%d: threads=%d ops=%.0f seconds=%.2f power_ops_per_s=%.0f "
      "requests_per_power_op=%.2f logins=%.0f failures=%d\n",
      run, threads, ops, seconds, ops / seconds, (after.requests - before.requests) / ops,
      after.logins - before.logins, failures.load());
  std::fflush(stdout);
  return failures.load() == 0 ? ops / seconds : 0.0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct progress {
  double seconds = 0;
  std::int64_t running_max = 0;
  bool finished = false;
};

/// What the bench reads of its own work in the database, through a connection of its own:
/// its active requests (hosts `bench-*`, a range of the unique index on `active_host`) and its
/// running jobs (a range of the index on `state`). Not `queue_depth`: that counts every
/// unfinished job of the database, also what other benchmarks left in a shared one (the
/// 10,000 parked `sim.wait` jobs of ab-bench-node, which this node never runs), and it scans
/// the whole jobs table, which polled every few milliseconds on MariaDB took the database's
/// CPU from the node under test.
class own_work {
 public:
  explicit own_work(const std::string& url) {
    if (url.rfind("sqlite:", 0) == 0) {
      pool_ = storage::detail::make_sqlite_pool(url.substr(7));
    } else if (auto target = storage::parse_mysql_url(url)) {
      pool_ = storage::detail::make_mysql_pool(*target, 1);
    }
  }
  bool ok() const { return pool_ != nullptr; }
  /// Active requests of the bench's hosts and running jobs; nullopt if the read failed.
  std::optional<std::pair<std::int64_t, std::int64_t>> read() const {
    try {
      auto c = pool_->acquire();
      c->autocommit();
      auto count = [&](const std::string& sql) {
        auto r = c->query(sql, {});
        return r->next() ? r->i64(0) : -1;
      };
      // '.' follows '-': every name that starts with "bench-" sorts in this range.
      auto active = count(
          "SELECT COUNT(*) FROM requests WHERE active_host >= 'bench-' AND active_host < "
          "'bench.'");
      auto running = count(
          "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND host >= 'bench-' AND host < "
          "'bench.'");
      if (active < 0 || running < 0) return std::nullopt;
      return std::make_pair(active, running);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ab-bench-bmc: reading progress: %s\n", e.what());
      return std::nullopt;
    }
  }

 private:
  std::unique_ptr<storage::detail::connection_pool> pool_;
};

/// Waits until none of the bench's requests is active (or `limit` passes), sampling jobs
/// running meanwhile.
progress wait_done(const own_work& db, harness::server_process& node, double& rss_max,
                   std::chrono::seconds limit) {
  progress p;
  auto t0 = steady::now();
  while (steady::now() - t0 < limit) {
    // Parked jobs wait for an installer's callback: their requests are active, holding no
    // worker.
    if (auto now = db.read()) {
      p.running_max = std::max(p.running_max, now->second);
      if (now->first == 0) {
        p.finished = true;
        break;
      }
    }
    rss_max = std::max(rss_max, node.rss_mb());
    // Short, so that the end of a sub-second phase is seen within a few milliseconds.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  p.seconds = std::chrono::duration<double>(steady::now() - t0).count();
  return p;
}

std::int64_t failed_requests(storage::store& db) {
  storage::request_filter f;
  f.state = storage::request_state::failed;
  f.limit = 1000;
  auto page = db.requests(f);
  return page ? static_cast<std::int64_t>(page->items.size()) : -1;
}

int usage() {
  std::fprintf(stderr,
               "usage: ab-bench-bmc [--hosts N] [--rounds R] [--runs K] [--workers W] "
               "[--claim-batch B] [--store URL]\n"
               "  --rounds R       power rounds per run (every host on, then off; 4)\n"
               "  --runs K         runs of each phase, reported as medians (3)\n"
               "  --claim-batch B  the node's --claim-batch; without it, the node's default\n");
  return 2;
}

int run(int argc, char** argv) {
  // Start-up check: `--reset` cancels what an interrupted run left (see below).
  const bool reset = bench::take_flag(argc, argv, "--reset");
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--hosts")
      o.hosts = std::stoi(v);
    else if (a == "--rounds")
      o.rounds = std::stoi(v);
    else if (a == "--runs")
      o.runs = std::stoi(v);
    else if (a == "--workers")
      o.workers = std::stoi(v);
    else if (a == "--claim-batch")
      o.claim_batch = std::stoi(v);
    else if (a == "--store")
      o.store = v;
    else
      return usage();
  }
  if (o.hosts < 1 || o.rounds < 1 || o.runs < 1 || o.workers < 1) return usage();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto dir = std::filesystem::temp_directory_path() / ("ab_bench_bmc_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  if (o.store.empty()) o.store = "sqlite:" + (dir / "bench.db").string();
  auto bin = std::filesystem::path(argv[0]).parent_path();
  std::ofstream(dir / "map.json")
      << R"({"clusters": {"all": {"actions": ["*"]}}, "default_cluster": "all"})";
  ::setenv("AB_BMC_BENCH", "admin:password", 1);

  harness::server_process sim(
      (bin / "ab-bmcsim").string(),
      {"--port", "0", "--time-scale", "0", "--seed", "1", "--install-ms", "0"},
      (dir / "sim.out").string());
  if (!sim.port()) {
    std::fprintf(stderr, "ab-bench-bmc: ab-bmcsim did not start (see %s)\n",
                 (dir / "sim.out").c_str());
    return 1;
  }
  storage::store_options so;
  so.url = o.store;
  so.pool_size = 2;
  auto db = storage::open_store(so, std::make_shared<system_clock>());
  if (!db) {
    std::fprintf(stderr, "ab-bench-bmc: %s\n", message_of(db.error()).c_str());
    return 1;
  }
  if (!bench::clear_leftovers(**db, {"bench-"}, reset, "ab-bench-bmc")) return 1;
  own_work progress_db{o.store};
  if (!progress_db.ok()) {
    std::fprintf(stderr, "ab-bench-bmc: cannot read %s\n", o.store.c_str());
    return 1;
  }
  // The simulated BMCs listen on loopback: the node must be told to allow it.
  std::vector<std::string> node_args{
      "--store", o.store, "--listen", "127.0.0.1:0", "--site", "dc1", "--handlers", "bmc",
      "--workers", "{\"default\": " + std::to_string(o.workers) + "}", "--cluster-map",
      (dir / "map.json").string(), "--bmc-allow-loopback", "1", "--poll-interval-ms", "5",
      "--idle-poll-max-ms", "50", "--retry-backoff-ms", "100", "--bmc-timeout-ms", "5000",
      // The machinery's rate, not the power feeds' (docs/safety.md). The per-rack and
      // per-power-domain limits stay at their defaults: the bench's hosts have no rack and no
      // power domain, so they never bind (the claim's pacing step has nothing to count).
      "--pacing-power-ons-per-second", "0"};
  if (o.claim_batch) {
    node_args.emplace_back("--claim-batch");
    node_args.push_back(std::to_string(*o.claim_batch));
  }
  std::optional<harness::server_process> node;
  double node_cpu = 0;
  int starts = 0;
  // A new node process (the one before stops first, logging out of its BMCs).
  auto start_node = [&]() -> bool {
    if (node) {
      node_cpu += node->cpu_seconds();
      node->stop();
      node.reset();
    }
    auto log = dir / ("node-" + std::to_string(starts++) + ".out");
    node.emplace((bin / "ab-node").string(), node_args, log.string());
    if (node->port()) return true;
    std::fprintf(stderr, "ab-bench-bmc: ab-node did not start (see %s)\n", log.c_str());
    return false;
  };
  if (!start_node()) return 1;
  for (int at = 0; at < o.hosts; at += 500) {
    json list = json::array();
    for (int i = at; i < std::min(o.hosts, at + 500); ++i)
      list.push_back({{"name", host_name(i)},
                      {"site", "dc1"},
                      {"bmc_endpoint",
                       "http://127.0.0.1:" + std::to_string(sim.port()) + "/bmc/" + host_name(i)},
                      {"credential_ref", "env:AB_BMC_BENCH"}});
    if (post(node->port(), "/v1/hosts", json{{"hosts", list}}.dump()) != 201) return 1;
  }
  double rss_max = node->rss_mb();
  const auto limit = std::chrono::seconds(300);

  // Power: every host on, then off, `rounds` times a run; one BMC operation per request. The
  // driver alone runs right after each run, on the same machine as it is then.
  std::int64_t inflight_max = 0;
  std::vector<double> power_rates, alone_rates;
  std::optional<bmc::redfish_driver> alone{std::in_place};
  double power_requests = 0, power_ops_total = 0;
  const auto power_ops = static_cast<double>(o.hosts) * 2 * o.rounds;
  for (int run = 1; run <= o.runs; ++run) {
    double power_s = 0;
    auto before = bmc_counts::of(sim.port());
    for (int r = 0; r < o.rounds; ++r)
      for (const char* action : {"power_on", "power_off"}) {
        if (!submit_all(node->port(), action, o.hosts)) return 1;
        auto p = wait_done(progress_db, *node, rss_max, limit);
        if (!p.finished) {
          std::fprintf(stderr, "ab-bench-bmc: %s did not finish in %lld s\n", action,
                       static_cast<long long>(limit.count()));
          return 1;
        }
        power_s += p.seconds;
        inflight_max = std::max(inflight_max, p.running_max);
      }
    auto after = bmc_counts::of(sim.port());
    power_requests += after.requests - before.requests;
    power_ops_total += power_ops;
    power_rates.push_back(power_ops / power_s);
    std::printf(
        "bmc power run=%d: ops=%.0f seconds=%.2f power_ops_per_s=%.0f requests=%.0f logins=%.0f\n",
        run, power_ops, power_s, power_ops / power_s, after.requests - before.requests,
        after.logins - before.logins);
    alone_rates.push_back(driver_alone(*alone, sim.port(), o.hosts, o.workers, o.rounds * 2, run));
  }
  alone.reset();  // logs out of the "alone-" BMCs
  auto requests_per_power_op = power_requests / power_ops_total;
  std::printf("bmc driver alone: threads=%d ops=%.0f runs=%d power_ops_per_s=%.0f (median)\n",
              o.workers, power_ops, o.runs, median(alone_rates));
  std::printf("bmc power: ops=%.0f runs=%d power_ops_per_s=%.0f (median) requests_per_op=%.2f\n",
              power_ops, o.runs, median(power_rates), requests_per_power_op);
  std::fflush(stdout);

  // New inventory to service: discover, then the first image; then the measured reimages.
  for (const char* action : {"discover", "build"}) {
    if (!submit_all(node->port(), action, o.hosts)) return 1;
    auto p = wait_done(progress_db, *node, rss_max, limit);
    std::printf("bmc %s: hosts=%d seconds=%.2f finished=%d\n", action, o.hosts, p.seconds,
                p.finished);
    if (!p.finished) return 1;
  }
  // Run 0 is cold: a fresh node (the old one logged out of every BMC), so that no session is
  // kept from earlier work. Its logins are what a reimage costs in logins (the issue's
  // figure); runs 1.. are the steady state, with the sessions run 0 opened, and give the rate
  // and the requests per reimage.
  std::vector<double> reimage_rates;
  double reimage_requests = 0, reimages = 0, cold_logins = 0, cold_requests = 0;
  int callbacks_in_flight_max = 0;
  bool finished = true;
  for (int run = 0; run <= o.runs && finished; ++run) {
    if (run == 0 && !start_node()) return 1;
    auto before = bmc_counts::of(sim.port());
    if (!submit_all(node->port(), "reimage", o.hosts)) return 1;
    auto re = wait_done(progress_db, *node, rss_max, limit);
    auto after = bmc_counts::of(sim.port());
    auto stats = get_json(sim.port(), "/sim/stats");
    auto callbacks = stats.is_object() ? stats.value("callbacks", json::object()) : json::object();
    callbacks_in_flight_max =
        std::max(callbacks_in_flight_max, callbacks.value("in_flight_max", 0));
    inflight_max = std::max(inflight_max, re.running_max);
    finished = re.finished;
    auto requests = after.requests - before.requests;
    auto logins = after.logins - before.logins;
    if (run == 0) {
      cold_logins = logins;
      cold_requests = requests;
    } else {
      reimage_requests += requests;
      reimages += o.hosts;
      reimage_rates.push_back(re.finished ? o.hosts / re.seconds : 0.0);
    }
    std::printf(
        "bmc reimage run=%d%s: hosts=%d seconds=%.2f reimages_per_s=%.1f finished=%d "
        "requests=%.0f logins=%.0f\n",
        run, run == 0 ? " (cold sessions)" : "", o.hosts, re.seconds, o.hosts / re.seconds,
        re.finished, requests, logins);
    std::fflush(stdout);
  }
  auto failed = failed_requests(**db);
  auto cpu = node_cpu + node->cpu_seconds();
  std::printf(
      "bmc reimage: hosts=%d runs=%d reimages_per_s=%.1f (median) cold_requests_per_reimage=%.1f "
      "node_cpu_s=%.1f callbacks_in_flight_max=%d failed_requests=%lld\n",
      o.hosts, o.runs, median(reimage_rates), cold_requests / o.hosts, cpu, callbacks_in_flight_max,
      static_cast<long long>(failed));
  std::printf(
      "bmc bench: power_ops_per_s=%.0f reimages_per_s=%.1f requests_per_power_op=%.1f "
      "requests_per_reimage=%.1f logins_per_reimage=%.2f inflight_max=%lld rss_mb=%.1f\n",
      median(power_rates), finished ? median(reimage_rates) : 0.0, requests_per_power_op,
      reimages > 0 ? reimage_requests / reimages : 0.0, cold_logins / o.hosts,
      static_cast<long long>(inflight_max), rss_max);
  node->stop();
  // A node that stops logs out of every BMC it kept a session with.
  auto end = get_json(sim.port(), "/sim/stats");
  if (end.is_object())
    std::printf("bmc sessions after the node stopped: logins=%lld logouts=%lld open=%lld\n",
                end.value("logins", 0LL), end.value("logouts", 0LL), end.value("sessions", 0LL));
  sim.stop();
  std::filesystem::remove_all(dir);
  curl_global_cleanup();
  return finished && failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab-bench-bmc: %s\n", e.what());
    return 2;
  }
}
