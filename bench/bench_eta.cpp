// ab-bench-eta: how good the turnaround estimates are. A simulated fleet (ab-bmcsim, its
// resets and installs of varied length, scaled by --time-scale) and one ab-node with few
// workers per job type. The hosts are discovered; the first half of them built. Then a backlog
// submitted at once, twice: the first half reimaged while the second half is built (its first
// image). The first backlog gives the site its history; the second one, after a wipe of the
// second half (erases shortened: not measured) so that it can be built again, is measured. For
// each request of a measured backlog, the estimate made at its submission (kept by the node,
// `eta_at_submission_ms`) against its real completion, relative to its real duration (from
// submission), per action:
// `eta accuracy: action=reimage n=N median_rel_err=E p90_rel_err=F`. A request that did not
// succeed is named with its error. Starts both programs (from this binary's directory) as
// children and stops them.

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/http_calls.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "storage/store.hpp"

namespace {

using namespace ab;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

struct options {
  int hosts = 60;
  int workers = 2;
  double time_scale = 0.2;
  int rounds = 1;
};

/// POSTs `body` to `path` of the node; the HTTP status (0 when the call failed).
long post(int port, const std::string& path, const std::string& body) {
  return bench::post_json(port, path, body, "ab-bench-eta");
}

std::string host_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "eta-%05d", i);
  return buf;
}

/// Submits `action` for hosts `from` to `to` (excluded) in one bulk call (confirming the count,
/// as a destructive bulk call must); nothing to do when the range is empty.
bool submit_range(int port, const std::string& action, int from, int to) {
  if (from >= to) return true;
  json list = json::array();
  for (int i = from; i < to; ++i) list.push_back(host_name(i));
  json body{{"action", action}, {"hosts", list}, {"confirm_hosts", list.size()}};
  return post(port, "/v1/requests", body.dump()) == 202;
}

/// Waits until no job is unfinished, or `limit` passes; false then.
bool wait_done(storage::store& db, std::chrono::seconds limit) {
  auto t0 = steady::now();
  while (steady::now() - t0 < limit) {
    auto depth = db.queue_depth();
    if (depth) {
      std::int64_t unfinished = 0;
      for (const auto& row : *depth) unfinished += row.count;
      if (unfinished == 0) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

/// Nearest-rank quantile of sorted `xs`.
double quantile(const std::vector<double>& xs, double q) {
  if (xs.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(xs.size())));
  return xs[std::clamp<std::size_t>(rank, 1, xs.size()) - 1];
}

int usage() {
  std::fprintf(
      stderr,
      "usage: ab-bench-eta [--hosts N] [--workers W] [--time-scale F] [--rounds R]\n"
      "  --hosts N        simulated hosts: half reimaged, half built per round (default 60)\n"
      "  --workers W      workers per job type of the node (default 2)\n"
      "  --time-scale F   ab-bmcsim's time scale of resets and installs (default 0.2)\n"
      "  --rounds R       measured rounds after the one that gives the history "
      "(default 1)\n");
  return 2;
}

int run(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || i + 1 >= argc) return usage();
    std::string v = argv[++i];
    if (a == "--hosts")
      o.hosts = std::stoi(v);
    else if (a == "--workers")
      o.workers = std::stoi(v);
    else if (a == "--time-scale")
      o.time_scale = std::stod(v);
    else if (a == "--rounds")
      o.rounds = std::stoi(v);
    else
      return usage();
  }
  if (o.hosts < 1 || o.hosts > 500 || o.workers < 1 || o.time_scale < 0 || o.rounds < 1)
    return usage();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto dir = std::filesystem::temp_directory_path() / ("ab_bench_eta_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto store_url = "sqlite:" + (dir / "bench.db").string();
  auto bin = std::filesystem::path(argv[0]).parent_path();
  std::ofstream(dir / "map.json")
      << R"({"clusters": {"all": {"actions": ["*"]}}, "default_cluster": "all"})";
  ::setenv("AB_BMC_BENCH", "admin:password", 1);
  char scale[32];
  std::snprintf(scale, sizeof scale, "%g", o.time_scale);
  // Resets of 2-6 s and installs of 20 s (ab-bmcsim's defaults), scaled; erases of 1 s (only
  // the wipes between rounds erase, and they are not measured).
  harness::server_process sim(
      (bin / "ab-bmcsim").string(),
      {"--port", "0", "--time-scale", scale, "--seed", "1", "--erase-ms", "1000"},
      (dir / "sim.out").string());
  if (!sim.port()) {
    std::fprintf(stderr, "ab-bench-eta: ab-bmcsim did not start (see %s)\n",
                 (dir / "sim.out").c_str());
    return 1;
  }
  std::vector<std::string> node_args{"--store",
                                     store_url,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--site",
                                     "dc1",
                                     "--handlers",
                                     "bmc",
                                     "--workers",
                                     "{\"default\": " + std::to_string(o.workers) + "}",
                                     "--cluster-map",
                                     (dir / "map.json").string(),
                                     "--bmc-allow-loopback",
                                     "1",
                                     "--poll-interval-ms",
                                     "5",
                                     "--idle-poll-max-ms",
                                     "50",
                                     "--retry-backoff-ms",
                                     "100",
                                     "--bmc-timeout-ms",
                                     "5000",
                                     "--pacing-power-ons-per-second",
                                     "0",
                                     "--pacing-per-rack",
                                     "0",
                                     "--pacing-per-power-domain",
                                     "0"};
  harness::server_process node((bin / "ab-node").string(), node_args, (dir / "node.out").string());
  if (!node.port()) {
    std::fprintf(stderr, "ab-bench-eta: ab-node did not start (see %s)\n",
                 (dir / "node.out").c_str());
    return 1;
  }
  storage::store_options so;
  so.url = store_url;
  so.pool_size = 1;
  auto db = storage::open_store(so, std::make_shared<system_clock>());
  if (!db) {
    std::fprintf(stderr, "ab-bench-eta: %s\n", message_of(db.error()).c_str());
    return 1;
  }
  json list = json::array();
  for (int i = 0; i < o.hosts; ++i)
    list.push_back({{"name", host_name(i)},
                    {"site", "dc1"},
                    {"bmc_endpoint",
                     "http://127.0.0.1:" + std::to_string(sim.port()) + "/bmc/" + host_name(i)},
                    {"credential_ref", "env:AB_BMC_BENCH"}});
  if (post(node.port(), "/v1/hosts", json{{"hosts", list}}.dump()) != 201) return 1;
  const auto limit = std::chrono::seconds(600);
  // The hosts [0, half) are reimaged, [half, hosts) built, side by side in each backlog.
  const int half = (o.hosts + 1) / 2;
  // One step of the set-up, not measured: `action` on hosts [from, to).
  auto warm_up = [&](const char* action, int from, int to) {
    auto t0 = steady::now();
    if (!submit_range(node.port(), action, from, to) || !wait_done(**db, limit)) {
      std::fprintf(stderr, "ab-bench-eta: %s did not finish\n", action);
      return false;
    }
    std::printf("eta warm-up: action=%s hosts=%d seconds=%.1f\n", action, to - from,
                std::chrono::duration<double>(steady::now() - t0).count());
    std::fflush(stdout);
    return true;
  };
  // The backlog of both actions; its requests since `since`.
  auto backlog = [&](const char* what) -> std::optional<std::vector<storage::request_view>> {
    auto since = system_clock{}.now();
    auto t0 = steady::now();
    if (!submit_range(node.port(), "reimage", 0, half) ||
        !submit_range(node.port(), "build", half, o.hosts) || !wait_done(**db, limit)) {
      std::fprintf(stderr, "ab-bench-eta: the %s backlog did not finish\n", what);
      return std::nullopt;
    }
    std::printf("eta %s: reimage=%d build=%d seconds=%.1f\n", what, half, o.hosts - half,
                std::chrono::duration<double>(steady::now() - t0).count());
    std::fflush(stdout);
    storage::request_filter f;
    f.since = since;
    f.limit = 1000;
    auto page = (*db)->requests(f);
    if (!page) {
      std::fprintf(stderr, "ab-bench-eta: %s\n", message_of(page.error()).c_str());
      return std::nullopt;
    }
    return std::move(page->items);
  };
  // The hosts' first life, then one backlog for the history.
  if (!warm_up("discover", 0, o.hosts) || !warm_up("build", 0, half) || !backlog("history"))
    return 1;
  std::map<std::string, std::vector<double>> errors;
  std::int64_t failed = 0, without = 0;
  for (int r = 0; r < o.rounds; ++r) {
    // The built half in service again must be wiped before it can be built anew.
    if (!warm_up("wipe", half, o.hosts)) return 1;
    auto done = backlog("round");
    if (!done) return 1;
    for (const auto& v : *done) {
      if (v.action != "reimage" && v.action != "build") continue;
      if (v.state != storage::request_state::succeeded) {
        ++failed;
        std::printf("eta bench: request %lld action=%s host=%s %s: %s\n",
                    static_cast<long long>(v.id), v.action.c_str(), v.host.c_str(),
                    std::string{storage::to_string(v.state)}.c_str(), v.error.c_str());
        continue;
      }
      auto duration = v.finished_at - v.created_at;
      if (v.eta_at_submission <= 0 || duration <= 0) {
        ++without;
        continue;
      }
      errors[v.action].push_back(
          std::abs(static_cast<double>(v.eta_at_submission - v.finished_at)) /
          static_cast<double>(duration));
    }
  }
  for (auto& [action, e] : errors) {
    std::sort(e.begin(), e.end());
    std::printf("eta accuracy: action=%s n=%zu median_rel_err=%.3f p90_rel_err=%.3f\n",
                action.c_str(), e.size(), quantile(e, 0.5), quantile(e, 0.9));
  }
  if (failed || without)
    std::printf("eta bench: failed_requests=%lld without_estimate=%lld\n",
                static_cast<long long>(failed), static_cast<long long>(without));
  std::fflush(stdout);
  node.stop();
  sim.stop();
  std::filesystem::remove_all(dir);
  curl_global_cleanup();
  return failed == 0 && without == 0 && !errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab-bench-eta: %s\n", e.what());
    return 2;
  }
}
