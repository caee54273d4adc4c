// ab-demo: a few seconds of a simulated site on the embedded store. Requests of three
// priority classes run through the database queue: worker threads claim jobs by type, a
// simulated installer wakes parked jobs, two flaky BMCs make a step retry with backoff, a
// straggler thread recovers a job whose worker "crashed", one install never calls back and
// fails its request, and one request is cancelled. The outcome is the same on every run. Until the
// node (actors) and the BMC layer land, this is how the queue is shown working end to end.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

namespace {

using namespace ab;
using namespace ab::storage;
using namespace std::chrono_literals;

/// The demo's chains, by action: a miniature of the real workflows to come.
std::vector<job_spec> chain_of(const std::string& action) {
  if (action == "discover") return {{"inventory", 4, 5000}, {"power_off", 3, 5000}};
  if (action == "reimage")
    return {{"power_off", 3, 5000}, {"boot_pxe", 3, 5000}, {"install", 2, 0}, {"verify", 3, 5000}};
  return {{"power_on", 3, 5000}};
}

struct demo {
  std::unique_ptr<store> db;
  system_clock clock;
  std::atomic<bool> stop{false};
  std::mutex rng_mutex;
  std::mt19937 rng{42};

  /// A random duration for a simulated BMC action.
  int roll(int lo, int hi) {
    std::lock_guard<std::mutex> guard{rng_mutex};
    return std::uniform_int_distribution<int>{lo, hi}(rng);
  }

  /// A worker thread for one job type: claim, "act", complete, fail or park.
  void worker(const std::string& type, int index) {
    auto owner = "demo-node/" + type + "-" + std::to_string(index);
    while (!stop) {
      auto jobs = db->claim(owner, type, 4, 1500);
      if (!jobs || jobs->empty()) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      std::vector<completion> done;
      for (const auto& j : *jobs) {
        db->renew({owner}, 1500);  // keep the batch's leases while working through it
        std::this_thread::sleep_for(std::chrono::milliseconds(roll(40, 160)));
        if (type == "inventory" && j.attempt == 1 &&
            (j.host == "rack1-05" || j.host == "rack1-07")) {
          db->fail({j.id, j.lease_token}, "BMC answered 503 Service Unavailable", true);
        } else if (type == "install" && j.event.empty()) {
          // Start the OS install and wait for the installer's callback without a thread.
          auto key = "install-done:" + j.host;
          db->issue_callback({j.request, "demo-token-" + j.host, key, clock.now() + 2000});
          db->park({j.id, j.lease_token}, key, clock.now() + 2000);
        } else if (type == "verify" && j.host == "rack2-07" && j.attempt == 1) {
          // The worker dies holding the job and comes back under a new identity: nobody
          // renews the old lease, so it expires and the straggler thread retries the job.
          std::printf("  ! worker %s \"crashes\" holding job %lld of %s\n", owner.c_str(),
                      static_cast<long long>(j.id), j.host.c_str());
          owner += "+restarted";
        } else {
          done.push_back({{j.id, j.lease_token}, ""});
        }
      }
      if (!done.empty()) db->complete(done);
    }
  }

  /// The simulated OS installer: calls back for hosts whose install job is parked.
  void installer() {
    while (!stop) {
      auto page = db->requests({std::nullopt, "", "reimage", "", 0, 0, 1000, {}});
      if (page)
        for (const auto& r : page->items) {
          if (r.state != request_state::running) continue;
          auto full = db->request(r.id);
          if (full && full->jobs.size() > 2 && full->jobs[2].state == job_state::parked &&
              r.host != "rack1-03")  // rack1-03's installer never calls back
            db->redeem_callback(r.id, "demo-token-" + r.host, R"({"image":"debian-12"})");
        }
      std::this_thread::sleep_for(150ms);
    }
  }

  /// The straggler manager: recovers expired leases and passed deadlines.
  void straggler() {
    while (!stop) {
      if (auto rec = db->recover(100); rec && (rec->retried || rec->failed))
        std::printf("  ~ recovery: %zu job(s) retried, %zu failed for good\n", rec->retried,
                    rec->failed);
      std::this_thread::sleep_for(250ms);
    }
  }

  std::map<request_state, int> tally() {
    std::map<request_state, int> out;
    request_filter f;
    f.limit = 1000;
    if (auto page = db->requests(f))
      for (const auto& r : page->items) ++out[r.state];
    return out;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "var/demo.db";
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  store_options opts;
  opts.url = "sqlite:" + path;
  opts.policy.backoff_base_ms = 200;
  opts.policy.backoff_max_ms = 1000;
  auto clk = std::make_shared<system_clock>();
  auto opened = open_store(opts, clk);
  if (!opened) {
    std::fprintf(stderr, "ab-demo: %s\n", message_of(opened.error()).c_str());
    return 1;
  }
  demo d;
  d.db = std::move(*opened);
  std::printf("ab-demo: embedded store %s\n", opts.url.c_str());

  std::vector<host_record> hosts;
  for (int rack = 1; rack <= 2; ++rack)
    for (int n = 1; n <= 10; ++n) {
      char name[16];
      std::snprintf(name, sizeof name, "rack%d-%02d", rack, n);
      hosts.push_back({name, "dc1", std::string{"https://bmc."} + name + ":443",
                       std::string{"file:"} + name, "ready", "{}", 0, 0});
    }
  if (auto err = d.db->put_hosts(hosts)) {
    std::fprintf(stderr, "ab-demo: %s\n", message_of(err).c_str());
    return 1;
  }

  auto make = [](const std::string& host, const std::string& action, const std::string& cls) {
    request_spec s;
    s.action = action;
    s.host = host;
    s.site = "dc1";
    s.priority_class = cls;
    s.submitter = "demo";
    s.idempotency_key = "demo-" + host + "-" + action;
    s.fingerprint = action + "/" + cls;
    s.chain = chain_of(action);
    return s;
  };
  std::vector<request_spec> specs;
  for (int n = 5; n <= 10; ++n) specs.push_back(make(hosts[n - 1].name, "discover", "organic"));
  for (int n = 1; n <= 8; ++n) specs.push_back(make(hosts[10 + n - 1].name, "reimage", "user"));
  for (int n = 1; n <= 4; ++n) specs.push_back(make(hosts[n - 1].name, "reimage", "maas"));
  specs.push_back(make("rack2-09", "power_on", "user"));
  specs.push_back(make("rack2-10", "power_on", "user"));
  auto submitted = d.db->submit(specs);
  if (!submitted) {
    std::fprintf(stderr, "ab-demo: %s\n", message_of(submitted.error()).c_str());
    return 1;
  }
  std::printf("ab-demo: submitted %zu requests in one transaction (maas > user > organic)\n",
              submitted->size());
  auto again = d.db->submit({specs[0], make(specs[1].host, "power_on", "user")});
  if (again) {
    std::printf("ab-demo: same idempotency key again -> %s request %lld\n",
                again->at(0).what == submit_outcome::status::existing ? "existing" : "?",
                static_cast<long long>(again->at(0).id));
    std::printf("ab-demo: second request for busy host %s -> refused, active request %lld\n",
                specs[1].host.c_str(), static_cast<long long>(again->at(1).id));
  }

  std::vector<std::thread> threads;
  for (const auto* type : {"inventory", "power_off", "boot_pxe", "install", "verify", "power_on"})
    for (int i = 0; i < 2; ++i) threads.emplace_back([&d, type, i] { d.worker(type, i); });
  threads.emplace_back([&d] { d.installer(); });
  threads.emplace_back([&d] { d.straggler(); });

  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(100ms);
  // An organic discovery waits behind the others: cancel it before it runs to the end.
  auto victim = submitted->at(5).id;
  if (d.db->cancel(victim, "operator: wrong host"))
    std::printf("  x cancelled request %lld (%s)\n", static_cast<long long>(victim),
                specs[5].host.c_str());
  for (int tick = 1; tick <= 60; ++tick) {
    std::this_thread::sleep_for(500ms);
    auto t = d.tally();
    std::printf("[%4.1fs] queued=%d running=%d succeeded=%d failed=%d cancelled=%d\n", tick / 2.0,
                t[request_state::queued], t[request_state::running], t[request_state::succeeded],
                t[request_state::failed], t[request_state::cancelled]);
    if (t[request_state::queued] + t[request_state::running] == 0) break;
  }
  d.stop = true;
  for (auto& t : threads) t.join();

  std::printf("\n%-5s %-9s %-9s %-8s %-10s %7s  %s\n", "id", "host", "action", "class", "state",
              "seconds", "reason");
  request_filter f;
  f.limit = 1000;
  auto page = d.db->requests(f);
  if (page)
    for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) {
      const auto& r = *it;
      auto end = r.finished_at ? r.finished_at : clk->now();
      std::printf("%-5lld %-9s %-9s %-8s %-10s %7.2f  %s\n", static_cast<long long>(r.id),
                  r.host.c_str(), r.action.c_str(), r.priority_class.c_str(), to_string(r.state),
                  static_cast<double>(end - r.created_at) / 1000.0, r.error.c_str());
    }
  std::printf("\nab-demo: done in %.1f s; inspect it with: sqlite3 %s 'SELECT * FROM jobs'\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              path.c_str());
  return 0;
}
