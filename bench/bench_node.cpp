// ab-bench-node: jobs per second through one ab-node process with trivial handlers, the node's
// resident memory idle and with 10,000 parked jobs, the database statements per job step and
// per idle second (MySQL), and how close chains of slow jobs come to the time that the node's
// worker count allows. Starts the real ab-node binary (from the same directory) on the store it
// is given and submits work to that store directly.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/leftovers.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/child_process.hpp"
#include "storage/detail/pools.hpp"
#include "storage/mysql_store.hpp"
#include "storage/store.hpp"

namespace {

/// Starts ab-node with its output discarded.
pid_t start_node(const std::string& binary, const std::vector<std::string>& args) {
  return ab::harness::spawn_child(binary, args, "/dev/null");
}

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

/// Left in the queue: jobs of `type` not yet finished.
std::int64_t unfinished(storage::store& db, const std::string& type) {
  return depth(db, type, storage::job_state::ready) + depth(db, type, storage::job_state::running) +
         depth(db, type, storage::job_state::waiting);
}

/// The server's statement counters (MySQL): every statement it was sent, and every commit.
struct db_counters {
  std::int64_t questions = 0;
  std::int64_t commits = 0;
};

/// Reads the server-wide counters through a connection of its own; nothing on SQLite.
class db_status {
 public:
  explicit db_status(const std::string& url) {
    if (url.rfind("mysql://", 0) != 0) return;
    if (auto target = storage::parse_mysql_url(url))
      pool_ = storage::detail::make_mysql_pool(*target, 1);
  }
  bool available() const { return pool_ != nullptr; }
  db_counters read() const {
    db_counters out;
    auto c = pool_->acquire();
    auto r = c->query(
        "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
        "VARIABLE_NAME IN ('QUESTIONS', 'COM_COMMIT')",
        {});
    while (r->next())
      (r->text(0) == "QUESTIONS" ? out.questions : out.commits) = std::stoll(r->text(1));
    return out;
  }

 private:
  std::unique_ptr<storage::detail::connection_pool> pool_;
};

/// Waits until the node `id` has recorded itself in the registry after `since` (it is up).
void wait_registered(storage::store& db, const std::string& id, time_ms since) {
  // A generous bound: on a loaded machine a node may take seconds to start.
  for (int i = 0; i < 3000; ++i) {
    if (auto nodes = db.nodes())
      for (const auto& n : *nodes)
        if (n.id == id && n.last_seen >= since) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "node %s did not start\n", id.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  // Start-up check: `--reset` cancels what an interrupted run left (see below).
  const bool reset = bench::take_flag(argc, argv, "--reset");
  std::string url;
  int requests = 5000, chain = 4, workers = 4, parked = 10000;
  // Slow jobs: chains of `slow_chain` sim.step jobs of `slow_job_ms` each, on `slow_workers`.
  int slow_job_ms = 2000, slow_workers = 16, slow_jobs = 12, slow_chain = 2;
  double idle_seconds = 2.0;
  int idle_workers = 32;
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
    else if (a == "--slow-job-ms")
      slow_job_ms = std::stoi(argv[i + 1]);
    else if (a == "--slow-workers")
      slow_workers = std::stoi(argv[i + 1]);
    else if (a == "--slow-jobs")
      slow_jobs = std::stoi(argv[i + 1]);
    else if (a == "--idle-workers")
      idle_workers = std::stoi(argv[i + 1]);
    else if (a == "--idle-seconds")
      idle_seconds = std::stod(argv[i + 1]);
  }
  if (url.empty()) {
    std::puts(
        "usage: ab-bench-node --store URL [--requests N] [--workers N] [--parked N]\n"
        "                     [--slow-job-ms MS] [--slow-workers N] [--slow-jobs N] "
        "[--idle-workers N]\n                     [--idle-seconds S]");
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
  if (!bench::clear_leftovers(db, {"noop-", "wait-", "slow-"}, reset, "ab-bench-node")) return 1;
  db_status stats{url};
  auto clk = std::make_shared<system_clock>();
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
  auto started = clk->now();
  auto pid = start_node(binary, args);
  wait_registered(db, "bench", started);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto idle_kb = harness::rss_kb(pid);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);

  // What an idle node with many workers asks of its database, per second, once settled.
  db_counters idle_before, idle_after;
  constexpr int simulated_types = 6;
  if (stats.available()) {
    auto idle_args = args;
    idle_args[11] = "{\"default\": " + std::to_string(idle_workers) + "}";
    started = clk->now();
    pid = start_node(binary, idle_args);
    wait_registered(db, "bench", started);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    idle_before = stats.read();
    std::this_thread::sleep_for(std::chrono::duration<double>(idle_seconds));
    idle_after = stats.read();
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
  }

  submit(db, requests, chain, "sim.noop", "noop-");
  db_counters busy_before, busy_after;
  if (stats.available()) busy_before = stats.read();
  auto t0 = steady::now();
  pid = start_node(binary, args);
  const auto total = static_cast<std::int64_t>(requests) * chain;
  // Poll gently: the count itself is work for the database the node is measured on.
  while (unfinished(db, "sim.noop") > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto seconds = std::chrono::duration<double>(steady::now() - t0).count();
  if (stats.available()) busy_after = stats.read();
  auto busy_kb = harness::rss_kb(pid);

  submit(db, parked, 1, "sim.wait", "wait-");
  // Every job parked (or, on a machine so loaded that a park deadline passed, beyond): a count
  // of parked jobs alone would wait forever for the jobs that failed.
  while (depth(db, "sim.wait", storage::job_state::parked) < parked &&
         unfinished(db, "sim.wait") > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto parked_kb = harness::rss_kb(pid);

  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  auto noop_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

  // Slow jobs on an idle node: every chain's steps should run side by side, one per worker.
  auto slow_args = args;
  slow_args[5] = "bench-slow";
  slow_args[11] = "{\"default\": 0, \"sim.step\": " + std::to_string(slow_workers) + "}";
  slow_args.insert(slow_args.end(), {"--sim-step-ms", std::to_string(slow_job_ms)});
  started = clk->now();
  pid = start_node(binary, slow_args);
  wait_registered(db, "bench-slow", started);
  auto t1 = steady::now();
  auto slow_ids = submit(db, slow_jobs, slow_chain, "sim.step", "slow-");
  // Each request by its key, not the queue depth: a count over the whole queue (10,000 parked
  // jobs by now) every few milliseconds would load the database the node is measured on.
  for (auto id : slow_ids)
    for (;;) {
      auto r = db.request(id);
      if (r && storage::is_terminal(r->state)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  auto slow_seconds = std::chrono::duration<double>(steady::now() - t1).count();
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  auto rounds = (slow_jobs + slow_workers - 1) / slow_workers;
  auto ideal = static_cast<double>(slow_chain) * rounds * slow_job_ms / 1000.0;

  std::printf(
      "node bench: backend=%s jobs_per_s=%.0f (%lld jobs, chains of %d, %d workers) "
      "rss_mb_idle=%.1f rss_mb_after_run=%.1f rss_mb_with_%d_parked=%.1f exit=%d\n",
      db.backend().c_str(), static_cast<double>(total) / seconds, static_cast<long long>(total),
      chain, workers, static_cast<double>(idle_kb) / 1024.0, static_cast<double>(busy_kb) / 1024.0,
      parked, static_cast<double>(parked_kb) / 1024.0, noop_exit);
  if (stats.available()) {
    auto steps = static_cast<double>(total);
    std::printf(
        "db statements: backend=mysql questions_per_step=%.2f commits_per_step=%.2f "
        "idle_questions_per_s=%.0f idle_commits_per_s=%.0f (idle: %d workers of %d types)\n",
        static_cast<double>(busy_after.questions - busy_before.questions) / steps,
        static_cast<double>(busy_after.commits - busy_before.commits) / steps,
        static_cast<double>(idle_after.questions - idle_before.questions) / idle_seconds,
        static_cast<double>(idle_after.commits - idle_before.commits) / idle_seconds,
        idle_workers * simulated_types, simulated_types);
  }
  std::printf(
      "slow jobs: job_ms=%d workers=%d jobs=%d seconds=%.2f ideal_seconds=%.2f ratio=%.2f\n",
      slow_job_ms, slow_workers, slow_jobs * slow_chain, slow_seconds, ideal, slow_seconds / ideal);
  return 0;
}
