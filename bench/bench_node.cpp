// ab-bench-node: jobs per second through one ab-node process with trivial handlers, and the
// node's resident memory idle and with 10,000 parked jobs. Starts the real ab-node binary (from
// the same directory) on the store it is given and submits work to that store directly.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/child_process.hpp"
#include "storage/store.hpp"

namespace {

using namespace ab;
using steady = std::chrono::steady_clock;

std::vector<storage::request_id> submit(storage::store& db, int n, int chain,
                                        const std::string& type, const std::string& prefix) {
  std::vector<storage::request_id> ids;
  for (int at = 0; at < n; at += 500) {
    std::vector<storage::request_spec> specs;
    for (int i = at; i < std::min(n, at + 500); ++i) {
      storage::request_spec s;
      s.action = "bench";
      s.host = prefix + std::to_string(i);
      s.site = "dc1";
      s.chain.assign(static_cast<std::size_t>(chain), storage::job_spec{type, 3, 0});
      specs.push_back(std::move(s));
    }
    auto out = db.submit(specs);
    if (!out) {
      std::fprintf(stderr, "submit: %s\n", message_of(out.error()).c_str());
      std::exit(1);
    }
    for (const auto& o : *out) ids.push_back(o.id);
  }
  return ids;
}

/// Counts jobs of `type` in `state` from the queue depth.
std::int64_t depth(storage::store& db, const std::string& type, storage::job_state state) {
  std::int64_t n = 0;
  if (auto rows = db.queue_depth())
    for (const auto& r : *rows)
      if (r.type == type && r.state == state) n += r.count;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int requests = 5000, chain = 4, workers = 4, parked = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--store")
      url = argv[i + 1];
    else if (a == "--requests")
      requests = std::stoi(argv[i + 1]);
    else if (a == "--workers")
      workers = std::stoi(argv[i + 1]);
    else if (a == "--parked")
      parked = std::stoi(argv[i + 1]);
  }
  if (url.empty()) {
    std::puts("usage: ab-bench-node --store URL [--requests N] [--workers N] [--parked N]");
    return 2;
  }
  auto binary = (std::filesystem::path(argv[0]).parent_path() / "ab-node").string();
  storage::store_options so;
  so.url = url;
  auto opened = storage::open_store(so, std::make_shared<system_clock>());
  if (!opened) {
    std::fprintf(stderr, "%s\n", message_of(opened.error()).c_str());
    return 1;
  }
  auto& db = **opened;
  auto workers_json = "{\"default\": 0, \"sim.noop\": " + std::to_string(workers) +
                      ", \"sim.wait\": " + std::to_string(workers) + "}";
  const std::vector<std::string> args{"--store",
                                      url,
                                      "--listen",
                                      "127.0.0.1:0",
                                      "--node-id",
                                      "bench",
                                      "--site",
                                      "dc1",
                                      "--handlers",
                                      "simulated",
                                      "--workers",
                                      workers_json,
                                      "--claim-batch",
                                      "32",
                                      "--poll-interval-ms",
                                      "100",
                                      "--idle-poll-max-ms",
                                      "200"};
  // Idle memory first, then the queue is filled while no node runs, so that the clock starts
  // with the node and measures only its work.
  auto pid = harness::spawn_child(binary, args, "/dev/null");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto idle_kb = harness::rss_kb(pid);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);

  submit(db, requests, chain, "sim.noop", "noop-");
  auto t0 = steady::now();
  pid = harness::spawn_child(binary, args, "/dev/null");
  const auto total = static_cast<std::int64_t>(requests) * chain;
  for (;;) {
    auto left = depth(db, "sim.noop", storage::job_state::ready) +
                depth(db, "sim.noop", storage::job_state::running) +
                depth(db, "sim.noop", storage::job_state::waiting);
    if (left == 0) break;
    // Poll gently: the count itself is work for the database the node is measured on.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto seconds = std::chrono::duration<double>(steady::now() - t0).count();
  auto busy_kb = harness::rss_kb(pid);

  submit(db, parked, 1, "sim.wait", "wait-");
  while (depth(db, "sim.wait", storage::job_state::parked) < parked)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto parked_kb = harness::rss_kb(pid);

  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  std::printf(
      "node bench: backend=%s jobs_per_s=%.0f (%lld jobs, chains of %d, %d workers) "
      "rss_mb_idle=%.1f rss_mb_after_run=%.1f rss_mb_with_%d_parked=%.1f exit=%d\n",
      db.backend().c_str(), static_cast<double>(total) / seconds, static_cast<long long>(total),
      chain, workers, static_cast<double>(idle_kb) / 1024.0, static_cast<double>(busy_kb) / 1024.0,
      parked, static_cast<double>(parked_kb) / 1024.0,
      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
