// ab-bench-queue: job steps per second through the queue, against the raw single-row UPDATE
// rate of the same database at the same concurrency, for MySQL/MariaDB and SQLite.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/detail/pools.hpp"
#include "storage/detail/sql_store.hpp"

namespace {

using namespace ab;
using namespace ab::storage;
using steady = std::chrono::steady_clock;

struct options {
  std::string mysql_url;
  std::string sqlite_path;
  int requests = 4000;
  int chain = 4;
  int batch = 32;
  double raw_seconds = 2.0;
  /// Connections of the store's pool (at most one per worker), like a node's store.
  int pool = static_cast<int>(store_options{}.pool_size);
  std::vector<int> workers{1, 4, 16};
  /// A failover run: `failover_command` (e.g. `scripts/galera kill 1`) runs once this share
  /// of the steps is done, while the workers go on.
  std::string failover_command;
  double failover_after = 0.3;
  /// Holds on other hosts and pauses of other actions in force during the runs: the claim
  /// looks both up for every job it takes, so their count is what the safety checks cost.
  int holds = 0;
};

/// What a failover run saw: the longest time without a finished step after the command ran,
/// steps that never finished, and jobs handed to a second worker while a first held them.
struct failover_figures {
  double stall_s = 0;
  long lost = 0;
  long double_runs = 0;
  long lost_leases = 0;
};

/// A fresh place to run one measurement in, and the pool and store on it.
struct bench_db {
  std::unique_ptr<detail::connection_pool> raw;
  std::unique_ptr<detail::sql_store> store;
};

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

/// Runs `threads` copies of `fn(thread_index)` and waits for them.
template <class F>
void run_threads(int threads, F fn) {
  std::vector<std::thread> ts;
  ts.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) ts.emplace_back(fn, i);
  for (auto& t : ts) t.join();
}

/// `o.holds` hosts on hold and a tenth as many pauses of other actions, none of which covers
/// the benchmark's work: the claim still checks them.
void place_safety_rows(detail::sql_store& store, const options& o) {
  if (o.holds <= 0) return;
  std::vector<host_record> hosts;
  for (int i = 0; i < o.holds; ++i) {
    host_record h;
    h.name = "held-" + std::to_string(i);
    h.site = "dc1";
    h.bmc_endpoint = "https://bmc-" + h.name;
    h.credential_ref = "file:bmc";
    hosts.push_back(std::move(h));
  }
  auto fail = [](const char* what, const caf::error& e) {
    std::fprintf(stderr, "%s failed: %s\n", what, message_of(e).c_str());
    std::exit(1);
  };
  if (auto err = store.put_hosts(hosts)) fail("put_hosts", err);
  for (const auto& h : hosts)
    if (auto held = store.place_hold({h.name, "", "bench", "bench", 0}, "bench"); !held)
      fail("place_hold", held.error());
  for (int i = 0; i < std::max(1, o.holds / 10); ++i)
    if (auto p = store.place_pause({"action", "other-" + std::to_string(i), "bench", "bench", 0},
                                   "bench");
        !p)
      fail("place_pause", p.error());
}

/// Claim → complete → next ready, in batches, until every step of every chain is done (or,
/// in a failover run, until no step finished for 60 s).
double queue_steps_per_s(detail::sql_store& store, const options& o, int workers,
                         failover_figures* failover = nullptr) {
  std::vector<request_spec> specs;
  for (int i = 0; i < o.requests; ++i) {
    request_spec s;
    s.action = "bench";
    s.host = "bench-" + std::to_string(i);
    s.site = "dc1";
    s.priority_class = i % 3 == 0 ? "maas" : (i % 3 == 1 ? "user" : "organic");
    s.submitter = "bench";
    s.chain.assign(static_cast<std::size_t>(o.chain), job_spec{"step", 3, 0});
    specs.push_back(std::move(s));
  }
  for (std::size_t at = 0; at < specs.size(); at += 500) {
    std::vector<request_spec> part(
        specs.begin() + static_cast<long>(at),
        specs.begin() + static_cast<long>(std::min(at + 500, specs.size())));
    if (auto out = store.submit(part); !out) {
      std::fprintf(stderr, "submit failed: %s\n", message_of(out.error()).c_str());
      std::exit(1);
    }
  }
  place_safety_rows(store, o);
  const long total = static_cast<long>(o.requests) * o.chain;
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  std::atomic<long> claims{0}, empty_claims{0};
  storage::action_filter dc1;
  dc1.site = "dc1";
  auto t0 = steady::now();
  // Failover bookkeeping: the jobs held now, and when a step last finished.
  std::mutex held_mutex;
  std::unordered_set<job_id> held;
  std::atomic<bool> failed_over{false};
  std::atomic<long> double_runs{0}, lost_leases{0};
  std::atomic<std::int64_t> last_progress_us{0}, worst_gap_us{0};
  auto now_us = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count();
  };
  auto progressed = [&] {
    auto now = now_us();
    auto last = last_progress_us.exchange(now);
    if (failed_over.load()) {
      auto gap = now - last;
      for (auto worst = worst_gap_us.load(); gap > worst;)
        if (worst_gap_us.compare_exchange_weak(worst, gap)) break;
    }
  };
  std::thread trigger;
  if (failover)
    trigger = std::thread([&] {
      while (done.load() < static_cast<long>(static_cast<double>(total) * o.failover_after))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      // The stall counts from the kill: the last step before it marks the start.
      last_progress_us = now_us();
      failed_over = true;
      std::fprintf(stderr, "  failover: running %s\n", o.failover_command.c_str());
      if (std::system(o.failover_command.c_str()) != 0)
        std::fprintf(stderr, "  failover command failed\n");
    });
  auto stuck = [&] {
    return failover && failed_over.load() && now_us() - last_progress_us.load() > 60'000'000;
  };
  run_threads(workers, [&](int w) {
    auto owner = "bench-worker-" + std::to_string(w);
    // Hand back the finished batch and take the next one in the same transaction.
    std::vector<completion> finished;
    while (done.load() < total && !stuck()) {
      // As a node claims: its own site's jobs only.
      auto cycle = store.complete_and_claim(finished, owner, "step", o.batch, 60000, dc1);
      if (!cycle) {
        // Keep the batch: handing it back is tried again (the store already retried).
        ++errors;
        continue;
      }
      if (failover) {
        std::lock_guard<std::mutex> guard{held_mutex};
        for (const auto& f : finished) held.erase(f.job.id);
        lost_leases += static_cast<long>(cycle->completed.lost.size());
        for (const auto& j : cycle->claimed)
          if (!held.insert(j.id).second) ++double_runs;
      }
      finished.clear();
      done += static_cast<long>(cycle->completed.completed);
      if (cycle->completed.completed > 0) progressed();
      ++claims;
      if (cycle->claimed.empty()) {
        ++empty_claims;
        std::this_thread::yield();
        continue;
      }
      for (const auto& j : cycle->claimed) finished.push_back({{j.id, j.lease_token}, ""});
    }
  });
  auto elapsed = seconds_since(t0);
  if (trigger.joinable()) trigger.join();
  if (failover) {
    failover->stall_s = static_cast<double>(worst_gap_us.load()) / 1e6;
    failover->lost = total - done.load();
    failover->double_runs = double_runs.load();
    failover->lost_leases = lost_leases.load();
    if (failover->lost > 0)
      if (auto depth = store.queue_depth())
        for (const auto& d : *depth)
          std::fprintf(stderr, "  left: type=%s state=%s count=%lld\n", d.type.c_str(),
                       std::string{to_string(d.state)}.c_str(), static_cast<long long>(d.count));
  }
  if (errors.load() > 0) std::fprintf(stderr, "  (%ld store errors)\n", errors.load());
  std::fprintf(
      stderr, "  claims=%ld empty=%ld mean_batch=%.1f\n", claims.load(), empty_claims.load(),
      static_cast<double>(total) / static_cast<double>(claims.load() - empty_claims.load()));
  return static_cast<double>(total) / elapsed;
}

/// Autocommit single-row `UPDATE … WHERE id = ?`, each thread on its own rows.
double raw_updates_per_s(detail::connection_pool& pool, const options& o, int workers) {
  {
    auto c = pool.acquire();
    c->exec_raw(
        "CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT NOT NULL PRIMARY KEY, "
        "v BIGINT NOT NULL)" +
        pool.sql().table_options);
    c->begin();
    c->execute("DELETE FROM bench_raw", {});
    for (std::int64_t i = 0; i < std::int64_t{64} * 16; ++i)
      c->execute("INSERT INTO bench_raw (id, v) VALUES (?, 0)", {i});
    c->commit();
  }
  std::atomic<long> updates{0};
  auto t0 = steady::now();
  run_threads(workers, [&](int w) {
    long n = 0;
    while (seconds_since(t0) < o.raw_seconds) {
      auto c = pool.acquire();
      c->begin();
      c->execute("UPDATE bench_raw SET v = v + 1 WHERE id = ?", {std::int64_t{w} * 64 + n % 64});
      c->commit();
      ++n;
    }
    updates += n;
  });
  return static_cast<double>(updates.load()) / seconds_since(t0);
}

struct figures {
  std::string backend;
  int workers;
  double steps, raw;
};

bench_db open_mysql(const mysql_target& base, int run, std::size_t raw_connections,
                    std::size_t pool_size) {
  auto admin = detail::make_mysql_pool(base, 1);
  auto name = "ab_bench_" + std::to_string(run);
  {
    auto c = admin->acquire();
    c->exec_raw("DROP DATABASE IF EXISTS " + name);
    c->exec_raw("CREATE DATABASE " + name);
  }
  auto target = base;
  target.database = name;
  bench_db db;
  db.raw = detail::make_mysql_pool(target, raw_connections);
  db.store = std::make_unique<detail::sql_store>(detail::make_mysql_pool(target, pool_size),
                                                 std::make_shared<system_clock>(), queue_policy{});
  return db;
}

void drop_mysql(const mysql_target& base, int run) {
  auto admin = detail::make_mysql_pool(base, 1);
  auto c = admin->acquire();
  c->exec_raw("DROP DATABASE IF EXISTS ab_bench_" + std::to_string(run));
}

bench_db open_sqlite(const std::string& path) {
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  bench_db db;
  db.store = std::make_unique<detail::sql_store>(detail::make_sqlite_pool(path),
                                                 std::make_shared<system_clock>(), queue_policy{});
  return db;
}

void usage() {
  std::puts(
      "usage: ab-bench-queue [--mysql URL] [--sqlite PATH] [--requests N] [--chain N]\n"
      "                      [--batch N] [--workers 1,4,16] [--raw-seconds S] [--pool N]\n"
      "                      [--failover-command CMD [--failover-after F]] [--holds N]\n"
      "Runs N chains of jobs through the queue with each worker count, and measures the raw\n"
      "autocommit single-row UPDATE rate of the same database at the same concurrency.\n"
      "With --failover-command (MySQL only): one run with the first worker count, CMD run once\n"
      "a share F (0.3) of the steps is done (e.g. killing the writer Galera node); prints the\n"
      "longest time without a finished step after it, steps lost and jobs run twice at once.\n"
      "With --holds N: N other hosts on hold and N/10 pauses of other actions stand during the\n"
      "runs, none covering the benchmark's work (what the claim's safety checks cost).");
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mysql")
      o.mysql_url = next();
    else if (a == "--sqlite")
      o.sqlite_path = next();
    else if (a == "--requests")
      o.requests = std::stoi(next());
    else if (a == "--chain")
      o.chain = std::stoi(next());
    else if (a == "--batch")
      o.batch = std::stoi(next());
    else if (a == "--pool")
      o.pool = std::stoi(next());
    else if (a == "--failover-command")
      o.failover_command = next();
    else if (a == "--failover-after")
      o.failover_after = std::stod(next());
    else if (a == "--holds")
      o.holds = std::stoi(next());
    else if (a == "--raw-seconds")
      o.raw_seconds = std::stod(next());
    else if (a == "--workers") {
      o.workers.clear();
      auto list = next();
      for (std::size_t p = 0; p < list.size();) {
        auto comma = list.find(',', p);
        o.workers.push_back(std::stoi(list.substr(p, comma - p)));
        p = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (o.mysql_url.empty() && o.sqlite_path.empty()) {
    usage();
    return 2;
  }
  std::printf(
      "ab-bench-queue: %d requests x %d jobs, claim/complete batches of %d, store pool of up to "
      "%d connections; raw updates use one connection per worker\n",
      o.requests, o.chain, o.batch, o.pool);
  std::vector<figures> all;
  try {
    int run = 0;
    if (!o.mysql_url.empty()) {
      auto base = parse_mysql_url(o.mysql_url);
      if (!base) {
        std::fprintf(stderr, "%s\n", message_of(base.error()).c_str());
        return 2;
      }
      if (!o.failover_command.empty()) {
        auto w = o.workers.front();
        auto db = open_mysql(*base, ++run, 1, static_cast<std::size_t>(std::min(w, o.pool)));
        if (auto err = db.store->open()) {
          std::fprintf(stderr, "%s\n", message_of(err).c_str());
          return 1;
        }
        failover_figures f;
        auto steps = queue_steps_per_s(*db.store, o, w, &f);
        std::printf(
            "queue failover: workers=%d steps_per_s=%.0f stall_s=%.1f lost=%ld double_runs=%ld "
            "lost_leases=%ld\n",
            w, steps, f.stall_s, f.lost, f.double_runs, f.lost_leases);
        db = {};
        drop_mysql(*base, run);
        return f.lost == 0 && f.double_runs == 0 ? 0 : 1;
      }
      for (int w : o.workers) {
        auto db = open_mysql(*base, ++run, static_cast<std::size_t>(w),
                             static_cast<std::size_t>(std::min(w, o.pool)));
        if (auto err = db.store->open()) {
          std::fprintf(stderr, "%s\n", message_of(err).c_str());
          return 1;
        }
        figures f{"mysql", w, queue_steps_per_s(*db.store, o, w), raw_updates_per_s(*db.raw, o, w)};
        std::printf(
            "queue backend=mysql workers=%d steps_per_s=%.0f raw_update_per_s=%.0f ratio=%.2f\n", w,
            f.steps, f.raw, f.steps / f.raw);
        std::fflush(stdout);
        all.push_back(f);
        db = {};
        drop_mysql(*base, run);
      }
    }
    if (!o.sqlite_path.empty()) {
      for (int w : o.workers) {
        auto db = open_sqlite(o.sqlite_path);
        if (auto err = db.store->open()) {
          std::fprintf(stderr, "%s\n", message_of(err).c_str());
          return 1;
        }
        auto steps = queue_steps_per_s(*db.store, o, w);
        db.store.reset();
        // The raw rate is measured on its own connection to the same file.
        auto raw_pool = detail::make_sqlite_pool(o.sqlite_path);
        figures f{"sqlite", w, steps, raw_updates_per_s(*raw_pool, o, w)};
        std::printf(
            "queue backend=sqlite workers=%d steps_per_s=%.0f raw_update_per_s=%.0f ratio=%.2f\n",
            w, f.steps, f.raw, f.steps / f.raw);
        std::fflush(stdout);
        all.push_back(f);
      }
      for (const auto* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(o.sqlite_path + suffix);
    }
  } catch (const detail::db_error& e) {
    std::fprintf(stderr, "database error: %s\n", e.what());
    return 1;
  }
  std::puts("summary (4 workers; target ratio >= 1.0 on MySQL, >= 10000 steps/s on SQLite):");
  for (const auto& f : all)
    if (f.workers == 4)
      std::printf("queue backend=%s workers=%d steps_per_s=%.0f raw_update_per_s=%.0f ratio=%.2f\n",
                  f.backend.c_str(), f.workers, f.steps, f.raw, f.steps / f.raw);
  return 0;
}
