// ab-bench-router: what one ab-router costs on the path of a call. One ab-node (SQLite, no
// workers), one ab-router that knows it from signed heartbeats, and HAProxy (the sample
// config, deploy/haproxy/haproxy.cfg, with both servers set to the node; HAProxy 2.6 runs its
// default of one thread per CPU, as the router runs its two I/O threads) proxying to the same
// node. The same GET, the same connections and the same schedule go to each of the three:
//   1. throughput: an offered rate far above what any of them serves; the answered calls
//      over the time they took (the connections stay busy all along);
//   2. latency: a fixed rate below the slowest one's throughput (half of it unless --rate);
//      p50/p99 from each call's scheduled time (bench/http_load).
// Each phase runs in --rounds rounds that take turns among the three targets (direct, router,
// HAProxy, direct, ...), --seconds per target in all, so that a burst of noise on a shared
// machine falls on all three rather than on one; each target's figures pool its rounds. It
// prints
//   router bench: direct_per_s=A router_per_s=B haproxy_per_s=C added_p50_ms=D added_p99_ms=E
// where "added" is the router's latency minus the direct one at the same rate, then a line of
// the three targets' latencies (with the router's p99 against HAProxy's, the fairer p99
// comparison: both add a hop, while the direct p99 is the node's own tail) and a line of their
// CPU use, with the CPU each proxy spends per call (the figure least moved by other load).

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_load.hpp"
#include "cluster/heartbeat.hpp"
#include "core/clock.hpp"
#include "harness/child_process.hpp"
#include "harness/haproxy_process.hpp"
#include "harness/server_process.hpp"

namespace {

namespace fs = std::filesystem;
namespace load = ab::bench;

constexpr const char* secret = "bench-router-secret";

/// What to measure, from the command line.
struct bench_options {
  double seconds = 3;
  /// Turns each phase takes among the three targets.
  std::size_t rounds = 3;
  std::size_t connections = 32;
  /// Requests per second offered in the throughput phase.
  double offered_rate = 20000;
  /// Requests per second of the latency phase; 0 for half the slowest throughput.
  double rate = 0;
  std::string target = "/v1/node";
  /// The targets measured, of direct, router and haproxy (all three by default; fewer to hold
  /// one under a profiler for a whole phase).
  std::vector<std::string> targets{"direct", "router", "haproxy"};
  /// The sample HAProxy config; found from the binary's checkout when empty.
  std::string haproxy_config;
};

std::optional<bench_options> parse_args(int argc, char** argv) {
  bench_options o;
  using setter = std::function<void(const std::string&)>;
  const std::map<std::string, setter> flags{
      {"--seconds", [&](const std::string& v) { o.seconds = std::stod(v); }},
      {"--rounds", [&](const std::string& v) { o.rounds = std::stoul(v); }},
      {"--connections", [&](const std::string& v) { o.connections = std::stoul(v); }},
      {"--offered-rate", [&](const std::string& v) { o.offered_rate = std::stod(v); }},
      {"--rate", [&](const std::string& v) { o.rate = std::stod(v); }},
      {"--target", [&](const std::string& v) { o.target = v; }},
      {"--haproxy-config", [&](const std::string& v) { o.haproxy_config = v; }},
      {"--targets",
       [&](const std::string& v) {
         o.targets.clear();
         for (std::size_t start = 0; start <= v.size();) {
           auto end = std::min(v.find(',', start), v.size());
           o.targets.push_back(v.substr(start, end - start));
           start = end + 1;
         }
       }},
  };
  for (int i = 1; i < argc; i += 2) {
    auto flag = flags.find(argv[i]);
    if (flag == flags.end() || i + 1 >= argc) return std::nullopt;
    flag->second(argv[i + 1]);
  }
  if (o.seconds <= 0 || o.rounds == 0 || o.connections == 0 || o.offered_rate <= 0 ||
      o.targets.empty())
    return std::nullopt;
  for (const auto& t : o.targets)
    if (t != "direct" && t != "router" && t != "haproxy") return std::nullopt;
  return o;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

/// One target's figures.
struct figures {
  double per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  long errors = 0;
  /// Throughput rounds so far: calls answered and the time they took.
  long answered = 0;
  double busy_seconds = 0;
  /// Latency rounds so far: each answered call's latency, and the calls answered.
  std::vector<double> ms;
};

/// One throughput round of `seconds` on `port`, added to `f`.
void throughput(int port, const bench_options& o, double seconds, figures& f) {
  load::open_loop_options lo;
  lo.port = static_cast<std::uint16_t>(port);
  lo.rate = o.offered_rate;
  lo.seconds = seconds;
  lo.connections = o.connections;
  auto summary = load::run_open_loop(
      lo,
      [&](std::size_t) {
        return load::load_request{"GET", o.target, ""};
      },
      [&](const load::load_reply& r) { r.status == 200 ? ++f.answered : ++f.errors; });
  f.busy_seconds += summary.elapsed_seconds;
  f.per_s = f.busy_seconds > 0 ? static_cast<double>(f.answered) / f.busy_seconds : 0;
}

/// One latency round of `seconds` on `port` at `rate`, added to `f`.
void latency(int port, const bench_options& o, double seconds, double rate, figures& f) {
  load::open_loop_options lo;
  lo.port = static_cast<std::uint16_t>(port);
  lo.rate = rate;
  lo.seconds = seconds;
  lo.connections = o.connections;
  load::run_open_loop(
      lo,
      [&](std::size_t) {
        return load::load_request{"GET", o.target, ""};
      },
      [&](const load::load_reply& r) {
        r.status == 200 ? f.ms.push_back(r.latency_ms) : static_cast<void>(++f.errors);
      });
  f.p50_ms = percentile(f.ms, 0.5);
  f.p99_ms = percentile(f.ms, 0.99);
}

/// What a process used so far: user and system CPU seconds, and context switches of all its
/// threads (voluntary ones: waits for I/O or a lock; the others: preemption).
struct process_use {
  double user_s = 0, system_s = 0;
  long voluntary = 0, involuntary = 0;
};

process_use use_of(pid_t pid) {
  process_use u;
  auto dir = "/proc/" + std::to_string(pid);
  std::ifstream stat{dir + "/stat"};
  std::string text{std::istreambuf_iterator<char>{stat}, {}};
  if (auto paren = text.rfind(')'); paren != std::string::npos) {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    std::istringstream rest{text.substr(paren + 1)};
    std::string field;
    const auto tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) u.user_s = std::stod(field) / tick;
      if (i == 15) u.system_s = std::stod(field) / tick;
    }
  }
  std::error_code ec;
  for (const auto& task : fs::directory_iterator{dir + "/task", ec}) {
    std::ifstream status{task.path() / "status"};
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        u.voluntary += std::stol(line.substr(line.find(':') + 1));
      else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        u.involuntary += std::stol(line.substr(line.find(':') + 1));
    }
  }
  return u;
}

process_use operator-(const process_use& a, const process_use& b) {
  return {a.user_s - b.user_s, a.system_s - b.system_s, a.voluntary - b.voluntary,
          a.involuntary - b.involuntary};
}

process_use& operator+=(process_use& a, const process_use& b) {
  a.user_s += b.user_s;
  a.system_s += b.system_s;
  a.voluntary += b.voluntary;
  a.involuntary += b.involuntary;
  return a;
}

/// The heartbeat the node's sender would send, signed, POSTed to the router on `router_port`;
/// true if it answered 204.
bool send_heartbeat(int router_port, int node_port, std::int64_t& last_sent) {
  ab::cluster::heartbeat hb;
  hb.node_id = "bench";
  hb.site = "dc1";
  hb.cluster = "all";
  hb.api_url = "http://127.0.0.1:" + std::to_string(node_port);
  hb.version = "bench";
  hb.sent_at_ms = std::max(ab::system_clock{}.now(), last_sent + 1);
  last_sent = hb.sent_at_ms;
  auto body = ab::cluster::encode(hb);
  auto signature = "X-AB-Signature: " + ab::cluster::sign(body, hb.sent_at_ms, secret);
  auto url = "http://127.0.0.1:" + std::to_string(router_port) + "/v1/heartbeats";
  CURL* curl = curl_easy_init();
  if (!curl) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, signature.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status == 204;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  if (!opts) {
    std::fprintf(
        stderr,
        "usage: ab-bench-router [--seconds S] [--rounds N] [--connections N] [--offered-rate R] "
        "[--rate R] [--target PATH] [--haproxy-config FILE] [--targets direct,router,haproxy]\n");
    return 2;
  }
  auto bin = fs::absolute(argv[0]).parent_path();
  if (opts->haproxy_config.empty())
    opts->haproxy_config =
        (bin.parent_path().parent_path() / "deploy/haproxy/haproxy.cfg").string();
  auto dir = fs::temp_directory_path() / ("ab_bench_router_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  { std::ofstream{dir / "hb.secret"} << secret << "\n"; }
  ::chmod((dir / "hb.secret").c_str(), 0600);

  int rc = 1;
  {
    ab::harness::server_process node{
        (bin / "ab-node").string(),
        {"--store", "sqlite:" + (dir / "bench.db").string(), "--listen", "127.0.0.1:0", "--node-id",
         "bench", "--site", "dc1", "--workers", R"({"default": 0})",
         // Every connection of the benchmark comes from 127.0.0.1.
         "--max-connections-per-peer", "100000"},
        (dir / "node.log").string()};
    ab::harness::server_process router{
        (bin / "ab-router").string(),
        {"--listen", "127.0.0.1:0", "--heartbeat-secret-file", (dir / "hb.secret").string(),
         "--max-connections-per-peer", "100000"},
        (dir / "router.log").string()};
    if (!node.ok() || !router.ok()) {
      std::fprintf(stderr, "ab-bench-router: node or router did not start:\n%s\n%s\n",
                   node.output().c_str(), router.output().c_str());
    } else {
      auto node_address = "127.0.0.1:" + std::to_string(node.port());
      ab::harness::haproxy_process lb{opts->haproxy_config,
                                      {{"AB_ROUTER1", node_address}, {"AB_ROUTER2", node_address}},
                                      dir.string()};
      std::int64_t last_sent = 0;
      if (!lb.ok()) {
        std::fprintf(stderr, "ab-bench-router: haproxy did not start:\n%s\n", lb.output().c_str());
      } else if (!send_heartbeat(router.port(), node.port(), last_sent)) {
        std::fprintf(stderr, "ab-bench-router: the router refused the heartbeat:\n%s\n",
                     router.output().c_str());
      } else {
        rc = 0;
      }
      if (rc == 0) {
        const std::map<std::string, int> ports{
            {"direct", node.port()}, {"router", router.port()}, {"haproxy", lb.port()}};
        std::vector<std::pair<std::string, int>> targets;
        for (const auto& name : opts->targets) targets.emplace_back(name, ports.at(name));
        std::map<std::string, figures> f;
        std::map<std::string, double> cpu_s;
        std::map<std::string, process_use> use;
        // The proxy of a target (the node for the direct one).
        auto pid_of = [&](const std::string& name) {
          return name == "router" ? router.pid() : name == "haproxy" ? lb.pid() : node.pid();
        };
        auto cpu_now = [&] {
          return std::vector<double>{node.cpu_seconds(), router.cpu_seconds(),
                                     ab::harness::cpu_seconds(lb.pid())};
        };
        // Warm-up: connections, pools and caches of all three.
        for (const auto& [name, port] : targets) {
          bench_options warm = *opts;
          warm.offered_rate = 2000;
          figures ignored;
          throughput(port, warm, 0.5, ignored);
        }
        const double round_seconds = opts->seconds / static_cast<double>(opts->rounds);
        // A heartbeat before each round keeps the node fresh in the router however long it runs.
        for (std::size_t round = 0; round < opts->rounds; ++round)
          for (const auto& [name, port] : targets) {
            send_heartbeat(router.port(), node.port(), last_sent);
            auto proxy_before = use_of(pid_of(name));
            auto node_before = use_of(node.pid());
            throughput(port, *opts, round_seconds, f[name]);
            use["busy_" + name] += use_of(pid_of(name)) - proxy_before;
            use["busy_" + name + "_node"] += use_of(node.pid()) - node_before;
          }
        double rate = opts->rate;
        if (rate <= 0) {
          rate = f[targets.front().first].per_s;
          for (const auto& [name, port] : targets) rate = std::min(rate, f[name].per_s);
          rate *= 0.5;
        }
        rate = std::max(rate, 10.0);
        for (std::size_t round = 0; round < opts->rounds; ++round)
          for (const auto& [name, port] : targets) {
            send_heartbeat(router.port(), node.port(), last_sent);
            auto before = cpu_now();
            auto proxy_pid = pid_of(name);
            auto proxy_before = use_of(proxy_pid);
            auto node_before = use_of(node.pid());
            latency(port, *opts, round_seconds, rate, f[name]);
            use[name] += use_of(proxy_pid) - proxy_before;
            use[name + "_node"] += use_of(node.pid()) - node_before;
            auto after = cpu_now();
            cpu_s[name + "_node"] += after[0] - before[0];
            cpu_s[name + "_router"] += after[1] - before[1];
            cpu_s[name + "_haproxy"] += after[2] - before[2];
          }
        auto per_call_us = [&](const std::string& name, const std::string& process) {
          auto calls = static_cast<double>(f[name].ms.size());
          return calls > 0 ? 1e6 * cpu_s[name + "_" + process] / calls : 0.0;
        };
        std::printf(
            "router bench: direct_per_s=%.0f router_per_s=%.0f haproxy_per_s=%.0f "
            "added_p50_ms=%.3f added_p99_ms=%.3f\n",
            f["direct"].per_s, f["router"].per_s, f["haproxy"].per_s,
            f["router"].p50_ms - f["direct"].p50_ms, f["router"].p99_ms - f["direct"].p99_ms);
        std::printf(
            "router bench latency: rate_per_s=%.0f connections=%zu seconds=%.1f rounds=%zu "
            "target=%s direct_p50_ms=%.3f direct_p99_ms=%.3f router_p50_ms=%.3f "
            "router_p99_ms=%.3f haproxy_p50_ms=%.3f haproxy_p99_ms=%.3f "
            "haproxy_added_p50_ms=%.3f router_minus_haproxy_p99_ms=%.3f router_vs_haproxy=%.2f "
            "errors=%ld\n",
            rate, opts->connections, opts->seconds, opts->rounds, opts->target.c_str(),
            f["direct"].p50_ms, f["direct"].p99_ms, f["router"].p50_ms, f["router"].p99_ms,
            f["haproxy"].p50_ms, f["haproxy"].p99_ms, f["haproxy"].p50_ms - f["direct"].p50_ms,
            f["router"].p99_ms - f["haproxy"].p99_ms,
            f["haproxy"].per_s > 0 ? f["router"].per_s / f["haproxy"].per_s : 0,
            f["direct"].errors + f["router"].errors + f["haproxy"].errors);
        std::printf(
            "router bench cpu (latency phase, seconds): direct: node=%.2f | router: node=%.2f "
            "router=%.2f | haproxy: node=%.2f haproxy=%.2f | per call: router_us=%.1f "
            "haproxy_us=%.1f\n",
            cpu_s["direct_node"], cpu_s["router_node"], cpu_s["router_router"],
            cpu_s["haproxy_node"], cpu_s["haproxy_haproxy"], per_call_us("router", "router"),
            per_call_us("haproxy", "haproxy"));
        // Where each proxy's time goes per call: user and system CPU, and the context switches
        // its threads made (each a sleep and a wake-up).
        auto line = [&](const std::string& name, const std::string& key) {
          bool busy = key.rfind("busy_", 0) == 0;
          auto calls = std::max(1.0, busy ? static_cast<double>(f[name].answered)
                                          : static_cast<double>(f[name].ms.size()));
          const auto& u = use[key];
          std::printf("%s: user_us=%.1f sys_us=%.1f switches=%.2f preempted=%.2f", key.c_str(),
                      1e6 * u.user_s / calls, 1e6 * u.system_s / calls,
                      static_cast<double>(u.voluntary) / calls,
                      static_cast<double>(u.involuntary) / calls);
        };
        for (std::string phase : {"", "busy_"}) {
          std::printf("router bench per call (%s phase) | ",
                      phase.empty() ? "latency" : "throughput");
          for (const auto& [name, port] : targets) {
            if (name != "direct") {
              line(name, phase + name);
              std::printf(" ");
            }
            line(name, phase + name + "_node");
            std::printf(" | ");
          }
          std::printf("\n");
        }
      }
      lb.stop();
    }
    router.stop();
    node.stop();
  }
  fs::remove_all(dir);
  return rc;
}
