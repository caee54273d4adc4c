// ab-bench-bmc: BMC work through one ab-node against ab-bmcsim at zero simulated latency —
// power operations per second, complete reimages per second (power off, boot the installer,
// the installer's callback, boot from disk, verify), the BMC HTTP requests and logins each
// costs (counted by ab-bmcsim, `GET /sim/stats`), BMC operations in flight, and the node's
// memory and CPU. Starts both programs (from this binary's directory) as children.

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

#include "bench/leftovers.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "storage/store.hpp"

namespace {

using namespace ab;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

struct options {
  int hosts = 300;
  int rounds = 2;
  int workers = 32;
  /// The node's --claim-batch (the most jobs one claim of a pool takes); unset: the node's own
  /// default, so that the figures are those of a node as it is deployed.
  std::optional<int> claim_batch;
  std::string store;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// POSTs `body` to the node's API; the HTTP status, 0 when the call failed.
long post(int port, const std::string& path, const std::string& body) {
  CURL* c = curl_easy_init();
  std::string answer;
  auto url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300)
    std::fprintf(stderr, "ab-bench-bmc: %s -> %ld %s\n", path.c_str(), status, answer.c_str());
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return status;
}

/// GETs `path` from `port` as JSON; null when the call failed.
json get_json(int port, const std::string& path) {
  CURL* c = curl_easy_init();
  std::string answer;
  auto url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return status == 200 ? json::parse(answer, nullptr, false) : json();
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
/// asks of the BMC: read the power state, then set it.
void driver_alone(int sim_port, int hosts, int threads, int rounds) {
  auto before = bmc_counts::of(sim_port);
  std::atomic<int> failures{0};
  auto t0 = steady::now();
  {
    bmc::redfish_driver driver;
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
            auto want = r % 2 == 0 ? bmc::power_state::on : bmc::power_state::off;
            auto state = driver.power(t);
            auto err = driver.set_power(
                t, want == bmc::power_state::on ? bmc::power_action::on : bmc::power_action::off);
            if (!state || err) ++failures;
          }
      });
    for (auto& t : pool) t.join();
  }
  auto seconds = std::chrono::duration<double>(steady::now() - t0).count();
  auto after = bmc_counts::of(sim_port);
  double ops = static_cast<double>(hosts) * rounds;
  std::printf(
      "bmc driver alone: threads=%d ops=%.0f seconds=%.2f power_ops_per_s=%.0f "
      "requests_per_power_op=%.2f logins=%.0f failures=%d\n",
      threads, ops, seconds, ops / seconds, (after.requests - before.requests) / ops,
      after.logins - before.logins, failures.load());
  std::fflush(stdout);
}

struct progress {
  double seconds = 0;
  std::int64_t running_max = 0;
  bool finished = false;
};

/// Waits until no job is unfinished (or `limit` passes), sampling jobs running meanwhile.
progress wait_done(storage::store& db, harness::server_process& node, double& rss_max,
                   std::chrono::seconds limit) {
  progress p;
  auto t0 = steady::now();
  while (steady::now() - t0 < limit) {
    auto depth = db.queue_depth();
    if (depth) {
      std::int64_t unfinished = 0, running = 0;
      for (const auto& row : *depth) {
        // Parked jobs wait for an installer's callback: unfinished, but holding no worker.
        unfinished += row.count;
        if (row.state == storage::job_state::running) running += row.count;
      }
      p.running_max = std::max(p.running_max, running);
      if (unfinished == 0) {
        p.finished = true;
        break;
      }
    }
    rss_max = std::max(rss_max, node.rss_mb());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
               "usage: ab-bench-bmc [--hosts N] [--rounds R] [--workers W] [--claim-batch B] "
               "[--store URL]\n"
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
    else if (a == "--workers")
      o.workers = std::stoi(v);
    else if (a == "--claim-batch")
      o.claim_batch = std::stoi(v);
    else if (a == "--store")
      o.store = v;
    else
      return usage();
  }
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
  // The simulated BMCs listen on loopback: the node must be told to allow it.
  std::vector<std::string> node_args{
      "--store", o.store, "--listen", "127.0.0.1:0", "--site", "dc1", "--handlers", "bmc",
      "--workers", "{\"default\": " + std::to_string(o.workers) + "}", "--cluster-map",
      (dir / "map.json").string(), "--bmc-allow-loopback", "1", "--poll-interval-ms", "5",
      "--idle-poll-max-ms", "50", "--retry-backoff-ms", "100", "--bmc-timeout-ms", "5000",
      // The machinery's rate, not the power feeds'
      // (docs/safety.md).
      "--pacing-power-ons-per-second", "0"};
  if (o.claim_batch) {
    node_args.emplace_back("--claim-batch");
    node_args.push_back(std::to_string(*o.claim_batch));
  }
  harness::server_process node((bin / "ab-node").string(), node_args, (dir / "node.out").string());
  if (!node.port()) {
    std::fprintf(stderr, "ab-bench-bmc: ab-node did not start (see %s)\n",
                 (dir / "node.out").c_str());
    return 1;
  }
  for (int at = 0; at < o.hosts; at += 500) {
    json list = json::array();
    for (int i = at; i < std::min(o.hosts, at + 500); ++i)
      list.push_back({{"name", host_name(i)},
                      {"site", "dc1"},
                      {"bmc_endpoint",
                       "http://127.0.0.1:" + std::to_string(sim.port()) + "/bmc/" + host_name(i)},
                      {"credential_ref", "env:AB_BMC_BENCH"}});
    if (post(node.port(), "/v1/hosts", json{{"hosts", list}}.dump()) != 201) return 1;
  }
  double rss_max = node.rss_mb();
  auto cpu0 = node.cpu_seconds();
  const auto limit = std::chrono::seconds(300);

  // Power: every host on, then off, `rounds` times; one BMC operation per request.
  double power_s = 0;
  std::int64_t inflight_max = 0;
  auto before_power = bmc_counts::of(sim.port());
  for (int r = 0; r < o.rounds; ++r)
    for (const char* action : {"power_on", "power_off"}) {
      if (!submit_all(node.port(), action, o.hosts)) return 1;
      auto p = wait_done(**db, node, rss_max, limit);
      power_s += p.seconds;
      inflight_max = std::max(inflight_max, p.running_max);
    }
  auto power_ops = static_cast<double>(o.hosts) * 2 * o.rounds;
  auto after_power = bmc_counts::of(sim.port());
  auto requests_per_power_op = (after_power.requests - before_power.requests) / power_ops;
  driver_alone(sim.port(), o.hosts, o.workers, o.rounds * 2);

  std::printf("bmc power: ops=%.0f seconds=%.2f power_ops_per_s=%.0f requests=%.0f logins=%.0f\n",
              power_ops, power_s, power_ops / power_s, after_power.requests - before_power.requests,
              after_power.logins - before_power.logins);
  std::fflush(stdout);

  // New inventory to service: discover, then the first image; then the measured reimages.
  for (const char* action : {"discover", "build"}) {
    if (!submit_all(node.port(), action, o.hosts)) return 1;
    auto p = wait_done(**db, node, rss_max, limit);
    std::printf("bmc %s: hosts=%d seconds=%.2f finished=%d\n", action, o.hosts, p.seconds,
                p.finished);
  }
  auto before_reimage = bmc_counts::of(sim.port());
  if (!submit_all(node.port(), "reimage", o.hosts)) return 1;
  auto re = wait_done(**db, node, rss_max, limit);
  auto after_reimage = bmc_counts::of(sim.port());
  auto requests_per_reimage = (after_reimage.requests - before_reimage.requests) / o.hosts;
  auto logins_per_reimage = (after_reimage.logins - before_reimage.logins) / o.hosts;
  auto stats = get_json(sim.port(), "/sim/stats");
  auto callbacks = stats.is_object() ? stats.value("callbacks", json::object()) : json::object();
  inflight_max = std::max(inflight_max, re.running_max);
  auto cpu = node.cpu_seconds() - cpu0;
  auto failed = failed_requests(**db);
  std::printf(
      "bmc reimage: hosts=%d seconds=%.2f finished=%d node_cpu_s=%.1f callbacks_in_flight_max=%d "
      "failed_requests=%lld\n",
      o.hosts, re.seconds, re.finished, cpu, callbacks.value("in_flight_max", 0),
      static_cast<long long>(failed));
  std::printf(
      "bmc bench: power_ops_per_s=%.0f reimages_per_s=%.1f requests_per_power_op=%.1f "
      "requests_per_reimage=%.1f logins_per_reimage=%.2f inflight_max=%lld rss_mb=%.1f\n",
      power_ops / power_s, re.finished ? o.hosts / re.seconds : 0.0, requests_per_power_op,
      requests_per_reimage, logins_per_reimage, static_cast<long long>(inflight_max), rss_max);
  node.stop();
  // A node that stops logs out of every BMC it kept a session with.
  auto end = get_json(sim.port(), "/sim/stats");
  if (end.is_object())
    std::printf("bmc sessions after the node stopped: logins=%lld logouts=%lld open=%lld\n",
                end.value("logins", 0LL), end.value("logouts", 0LL), end.value("sessions", 0LL));
  sim.stop();
  std::filesystem::remove_all(dir);
  curl_global_cleanup();
  return re.finished && failed == 0 ? 0 : 1;
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
