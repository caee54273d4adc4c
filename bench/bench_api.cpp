// ab-bench-api: the REST API of one ab-node under load, measured from outside over HTTP:
// bulk and single submissions, GET latency both closed-loop (64 connections as fast as they
// are answered) and open-loop (a fixed rate, latency from the scheduled send time), and an
// overload phase offering 10x the single-submission rate the node just sustained, whose
// accepted requests are checked against the store afterwards; the goodput line compares the
// rate accepted under that overload with the capacity, and two cpu lines say where the
// machine's cores went meanwhile (the node, this load generator, the rest: database, kernel).
// Beside the GETs, baselines measured in the same run say what bounds them: the same generator
// against `/healthz` and `/v1/node` of the same node, and the store's own rate for the same read.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/http_load.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/server_process.hpp"
#include "storage/detail/pools.hpp"
#include "storage/mysql_store.hpp"
#include "storage/store.hpp"

namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
namespace load = ab::bench;

/// What to measure, from the command line.
struct bench_options {
  std::string url;
  int hosts = 20000;
  int singles = 3000;
  int seconds = 5;
  /// The overload phase offers this many times the measured single-submission rate.
  double overload_factor = 10;
  std::size_t overload_connections = 512;
  /// Requests per second of the fixed-rate GET phase; 0 for half the closed-loop figure.
  double get_rate = 0;
  /// More command-line options for the node, as `--name value` pairs.
  std::vector<std::string> node_args;
  /// The phases to run: the GETs (with their baselines) and the goodput (capacity, overload).
  bool get_phases = true;
  bool goodput_phases = true;
  /// Threads of the store baseline: the API's store actors (`api_store_pool_size`).
  int store_threads = 4;
};

std::optional<bench_options> parse_args(int argc, char** argv) {
  bench_options o;
  using setter = std::function<void(const std::string&)>;
  const std::map<std::string, setter> flags{
      {"--store", [&](const std::string& v) { o.url = v; }},
      {"--hosts", [&](const std::string& v) { o.hosts = std::stoi(v); }},
      {"--singles", [&](const std::string& v) { o.singles = std::stoi(v); }},
      {"--seconds", [&](const std::string& v) { o.seconds = std::stoi(v); }},
      {"--overload-factor", [&](const std::string& v) { o.overload_factor = std::stod(v); }},
      {"--overload-connections",
       [&](const std::string& v) { o.overload_connections = std::stoul(v); }},
      {"--get-rate", [&](const std::string& v) { o.get_rate = std::stod(v); }},
      {"--store-threads", [&](const std::string& v) { o.store_threads = std::stoi(v); }},
      // get, goodput or get,goodput (the default).
      {"--phases",
       [&](const std::string& v) {
         o.get_phases = v.find("get") != std::string::npos;
         o.goodput_phases = v.find("goodput") != std::string::npos;
         if (!o.get_phases && !o.goodput_phases) throw std::invalid_argument("--phases " + v);
       }},
      // NAME=VALUE: the node is started with --NAME VALUE.
      {"--node-option",
       [&](const std::string& v) {
         auto eq = v.find('=');
         if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--node-option " + v);
         o.node_args.push_back("--" + v.substr(0, eq));
         o.node_args.push_back(v.substr(eq + 1));
       }},
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    auto flag = flags.find(argv[i]);
    if (flag == flags.end()) return std::nullopt;
    flag->second(argv[i + 1]);
  }
  if (o.url.empty()) return std::nullopt;
  return o;
}

/// A keep-alive HTTP/1.1 client connection to 127.0.0.1, one blocking call at a time.
class client {
 public:
  explicit client(int port) : port_(port) { connect(); }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request and reads the answer; status 0 on a broken connection (reconnects).
  /// A kept-alive connection the server closed while it idled (past its idle timeout) is
  /// reconnected and the request sent again, once: nothing of an answer had come back.
  int call(const std::string& method, const std::string& path, const std::string& body) {
    bool reused = used_;
    used_ = true;
    auto req = method + " " + path +
               " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    auto again = [&] {
      reconnect();
      return reused ? call(method, path, body) : 0;
    };
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return again();
    std::string buf;
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos)
      if (!receive(buf)) return buf.empty() ? again() : reconnect();
    std::size_t length = 0;
    auto cl = buf.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
    while (buf.size() < end + 4 + length)
      if (!receive(buf)) return reconnect();
    auto status = std::stoi(buf.substr(9, 3));
    body_ = buf.substr(end + 4, length);
    if (buf.find("Connection: close") < end) reconnect();
    return status;
  }

  /// The body of the last answer `call` read.
  const std::string& body() const { return body_; }

 private:
  bool receive(std::string& buf) {
    char chunk[8192];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  void connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval limit{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    // A failed connect shows up as a failed first call, which reconnects.
    [[maybe_unused]] int rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  int reconnect() {
    ::close(fd_);
    connect();
    used_ = false;
    return 0;
  }
  int port_;
  int fd_ = -1;
  /// Whether the connection carried a request already.
  bool used_ = false;
  std::string body_;
};

/// ab-node (next to this binary) as a child process on a free loopback port.
class node_process {
 public:
  /// Starts the node on `url` with no workers; `port()` is 0 if it did not come up.
  node_process(const std::string& self, const std::string& url,
               const std::vector<std::string>& more_args)
      : dir_(std::filesystem::temp_directory_path() /
             ("ab_bench_api_" + std::to_string(getpid()))) {
    std::filesystem::create_directories(dir_);
    auto out = (dir_ / "node.out").string();
    auto binary = (std::filesystem::path(self).parent_path() / "ab-node").string();
    // The hosts' credential: a node registers only references that resolve in its store.
    ::setenv("AB_BMC_BENCH_API", "admin:password", 1);
    std::vector<std::string> args{"--store", url, "--listen", "127.0.0.1:0", "--node-id",
                                  "bench-api", "--workers", "{\"default\": 0}",
                                  // Every connection of the benchmark comes from 127.0.0.1.
                                  "--max-connections-per-peer", "100000"};
    args.insert(args.end(), more_args.begin(), more_args.end());
    server_ = std::make_unique<ab::harness::server_process>(binary, args, out);
  }
  ~node_process() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  int port() const { return server_->port(); }

  /// User plus system CPU time the node used so far, in seconds.
  double cpu_seconds() const { return server_->cpu_seconds(); }

  /// Context switches of all the node's threads so far (each time one of them gave up or lost
  /// its core); 0 when unknown.
  long long context_switches() const {
    long long n = 0;
    std::error_code ec;
    auto tasks = std::filesystem::path("/proc") / std::to_string(server_->pid()) / "task";
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream in(task.path() / "status");
      for (std::string line; std::getline(in, line);)
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
            line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
          n += std::stoll(line.substr(line.find(':') + 1));
    }
    return n;
  }

  /// Stops the node (SIGTERM) and waits for it.
  void stop() { server_->stop(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<ab::harness::server_process> server_;
};

/// CPU seconds the whole machine spent busy so far (all cores; /proc/stat: everything but
/// idle and iowait).
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU seconds this process (the load generator) used so far.
double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Where the machine's CPU went during one phase: the node, the load generator, and the rest
/// (the database, the kernel's networking outside those processes, anything else running).
class cpu_meter {
 public:
  explicit cpu_meter(const node_process& node)
      : node_(node),
        t0_(steady::now()),
        machine0_(machine_busy_seconds()),
        node0_(node.cpu_seconds()),
        own0_(own_cpu_seconds()),
        switches0_(node.context_switches()) {}

  /// Ends the phase.
  void stop() {
    seconds_ = std::max(1e-3, std::chrono::duration<double>(steady::now() - t0_).count());
    machine_ = machine_busy_seconds() - machine0_;
    node_cpu_ = node_.cpu_seconds() - node0_;
    own_ = own_cpu_seconds() - own0_;
    switches_ = node_.context_switches() - switches0_;
  }

  /// `api NAME cpu: ...` in cores (CPU seconds per second of the phase), and the node's CPU
  /// time per call of the `calls` the phase made.
  std::string line(const char* name, double calls) const {
    char out[320];
    std::snprintf(out, sizeof out,
                  "api %s cpu: cores=%ld machine_busy_cores=%.2f node_cores=%.2f "
                  "load_generator_cores=%.2f rest_cores=%.2f node_us_per_call=%.0f "
                  "node_switches_per_call=%.1f\n",
                  name, sysconf(_SC_NPROCESSORS_ONLN), machine_ / seconds_, node_cpu_ / seconds_,
                  own_ / seconds_, std::max(0.0, machine_ - node_cpu_ - own_) / seconds_,
                  calls > 0 ? node_cpu_ * 1e6 / calls : 0.0,
                  calls > 0 ? static_cast<double>(switches_) / calls : 0.0);
    return out;
  }

 private:
  const node_process& node_;
  steady::time_point t0_;
  double machine0_, node0_, own0_;
  long long switches0_;
  double seconds_ = 1e-3, machine_ = 0, node_cpu_ = 0, own_ = 0;
  long long switches_ = 0;
};

/// The MySQL server's status counters (`SHOW GLOBAL STATUS`), to count the database's round
/// trips and work per call; nothing for SQLite.
class db_meter {
 public:
  /// The counters read, `Questions` (every statement a client sent) first.
  static constexpr const char* names[] = {
      "Questions",      "Com_stmt_execute", "Com_stmt_prepare", "Com_stmt_reset",
      "Com_stmt_close", "Com_select",       "Com_insert",       "Com_commit",
      "Com_set_option", "Innodb_rows_read", "Bytes_sent"};

  explicit db_meter(const std::string& url) {
    auto target = ab::storage::parse_mysql_url(url);
    if (target) pool_ = ab::storage::detail::make_mysql_pool(*target, 1);
  }

  /// The counters now, without this meter's own statements; empty without a MySQL server.
  std::map<std::string, long long> read() {
    std::map<std::string, long long> out;
    if (!pool_) return out;
    try {
      auto c = pool_->acquire_for_reads();
      c->autocommit();
      std::string sql =
          "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
          "WHERE VARIABLE_NAME IN (";
      for (const char* n : names) sql += std::string{n == names[0] ? "'" : ",'"} + n + "'";
      auto r = c->query(sql + ")", {});
      while (r->next()) {
        auto name = r->text(0);
        for (const char* n : names)
          if (strcasecmp(n, name.c_str()) == 0) out[n] = std::stoll(r->text(1));
      }
      // This meter's own statement, one prepared execution each time.
      out["Questions"] -= own_;
      out["Com_stmt_execute"] -= own_;
      ++own_;
    } catch (const std::exception&) {
      out.clear();
    }
    return out;
  }

  /// `Questions` now (see `read`); -1 without a MySQL server.
  long long statements() {
    auto m = read();
    return m.empty() ? -1 : m["Questions"];
  }

 private:
  std::unique_ptr<ab::storage::detail::connection_pool> pool_;
  long long own_ = 0;
};

/// `counter=per call` for each counter that moved between `before` and `after`.
std::string per_call(const std::map<std::string, long long>& before,
                     const std::map<std::string, long long>& after, double calls) {
  std::string out;
  for (const auto& [name, v] : after) {
    auto it = before.find(name);
    if (it == before.end() || calls <= 0) continue;
    char item[96];
    std::snprintf(item, sizeof item, " %s=%.3f", name.c_str(),
                  static_cast<double>(v - it->second) / calls);
    out += item;
  }
  return out;
}

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

/// Runs `fn(thread number)` on `n` threads and waits for them.
void in_parallel(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (int t = 0; t < n; ++t) ts.emplace_back(fn, t);
  for (auto& t : ts) t.join();
}

/// A distinct BMC endpoint per host: an IPv6 literal, so registration resolves no name.
std::string endpoint_of(const std::string& prefix, int i) {
  char text[64];
  std::snprintf(text, sizeof text, "https://[fd00:ab::%x:%x:%x]",
                static_cast<unsigned>(std::hash<std::string>{}(prefix)&0xffff),
                static_cast<unsigned>(i >> 16) & 0xffff, static_cast<unsigned>(i) & 0xffff);
  return text;
}

/// Registers hosts `prefix`first … `prefix`(first+count-1) in bulks of 1000; hosts/s, 0 on error.
double register_hosts(client& c, const std::string& prefix, int first, int count) {
  auto t0 = steady::now();
  for (int at = first; at < first + count; at += 1000) {
    json list = json::array();
    for (int i = at; i < std::min(first + count, at + 1000); ++i)
      list.push_back({{"name", prefix + std::to_string(i)},
                      {"site", "dc1"},
                      {"bmc_endpoint", endpoint_of(prefix, i)},
                      {"credential_ref", "env:AB_BMC_BENCH_API"}});
    if (c.call("POST", "/v1/hosts", json{{"hosts", list}}.dump()) != 201) return 0;
  }
  return count / seconds_since(t0);
}

/// Submits hosts `prefix`0 … `prefix`(count-1), 100 per call, the ids of the first call's
/// requests into `first_ids`; hosts/s, 0 on error.
double bulk_submit(client& c, const std::string& prefix, int count,
                   std::vector<std::int64_t>& first_ids) {
  auto t0 = steady::now();
  for (int at = 0; at < count; at += 100) {
    json list = json::array();
    for (int i = at; i < std::min(count, at + 100); ++i) list.push_back(prefix + std::to_string(i));
    if (c.call("POST", "/v1/requests", json{{"action", "power_on"}, {"hosts", list}}.dump()) != 202)
      return 0;
    if (at == 0) {
      auto answer = json::parse(c.body(), nullptr, false);
      if (answer.contains("requests"))
        for (const auto& r : answer["requests"])
          if (auto id = r.value("id", std::int64_t{0})) first_ids.push_back(id);
    }
  }
  return count / seconds_since(t0);
}

std::string single_body(const std::string& host) {
  return R"({"action":"power_on","host":")" + host + R"("})";
}

/// Submits hosts `prefix``first` … `prefix`(`end`-1) one per call from 16 connections;
/// requests/s.
double single_submit(int port, const std::string& prefix, int first, int end) {
  std::atomic<int> next{first};
  auto t0 = steady::now();
  in_parallel(16, [&](int) {
    client mine{port};
    for (int i; (i = next++) < end;)
      mine.call("POST", "/v1/requests", single_body(prefix + std::to_string(i)));
  });
  return (end - first) / seconds_since(t0);
}

/// Latency figures of a GET phase.
struct get_figures {
  double calls = 0;
  double rate = 0;
  double p50 = 0;
  double p99 = 0;
  long errors = 0;
};

/// GETs of `targets` in turn over 64 connections for `seconds`, each as fast as it is answered
/// (one generator thread for all of them, so that the generator's own switching does not crowd
/// the node and the database out of a small machine).
get_figures closed_loop_get(int port, int seconds, const std::vector<std::string>& targets) {
  load::closed_loop_options o;
  o.port = static_cast<std::uint16_t>(port);
  o.connections = 64;
  o.seconds = seconds;
  std::vector<double> latencies;
  long errors = 0;
  auto summary = load::run_closed_loop(
      o,
      [&](std::size_t i) {
        return load::load_request{"GET", targets[i % targets.size()], ""};
      },
      [&](const load::load_reply& r) {
        latencies.push_back(r.latency_ms);
        if (r.status != 200) ++errors;
      });
  auto calls = static_cast<double>(summary.requests);
  return {calls, calls / std::max(1e-3, summary.elapsed_seconds), percentile(latencies, 0.5),
          percentile(latencies, 0.99), errors};
}

/// The store's own ceiling for the GETs' reads of `ids`: `store::request(id)` of each in turn
/// (the same statement on the same driver), or with `batch` > 1 `store::requests_by_id` of
/// `batch` of them at a time (what the node does with GETs that come while its store actors are
/// busy), in a loop on each of `threads` threads, each with a connection of its own, for
/// `seconds`, with no HTTP and no actors in between. Counts requests read, not statements.
get_figures store_ceiling(const std::string& url, const std::vector<std::int64_t>& ids,
                          std::size_t batch, int threads, int seconds) {
  ab::storage::store_options so;
  so.url = url;
  so.pool_size = static_cast<std::size_t>(threads);
  auto db = ab::storage::open_store(so, std::make_shared<ab::system_clock>());
  if (!db) return {};
  std::vector<std::vector<double>> each(static_cast<std::size_t>(threads));
  std::atomic<long> errors{0};
  auto t0 = steady::now();
  in_parallel(threads, [&](int t) {
    auto& mine = each[static_cast<std::size_t>(t)];
    for (std::size_t next = 0; seconds_since(t0) < seconds; next += batch) {
      auto s = steady::now();
      if (batch <= 1) {
        if (!(*db)->request(ids[next % ids.size()])) ++errors;
      } else {
        std::vector<std::int64_t> some;
        for (std::size_t i = 0; i < batch; ++i) some.push_back(ids[(next + i) % ids.size()]);
        if (!(*db)->requests_by_id(some)) ++errors;
      }
      // Each request read counts, with the latency of its read.
      mine.insert(mine.end(), std::max<std::size_t>(batch, 1), seconds_since(s) * 1000);
    }
  });
  auto elapsed = seconds_since(t0);
  std::vector<double> latencies;
  for (const auto& v : each) latencies.insert(latencies.end(), v.begin(), v.end());
  auto calls = static_cast<double>(latencies.size());
  return {calls, calls / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99),
          errors.load()};
}

/// Cancels the newest request of the node's store and returns its id; 0 when that fails.
std::int64_t finished_request(int port) {
  client c{port};
  if (c.call("GET", "/v1/requests?limit=1", "") != 200) return 0;
  auto page = json::parse(c.body(), nullptr, false);
  if (!page.contains("requests") || page["requests"].empty()) return 0;
  auto id = page["requests"][0].value("id", std::int64_t{0});
  if (id == 0 || c.call("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "{}") != 200)
    return 0;
  return id;
}

/// GETs of `targets` in turn at a fixed `rate` for `seconds` (open loop) over 64 connections.
get_figures open_loop_get(int port, const std::vector<std::string>& targets, double rate,
                          int seconds) {
  load::open_loop_options o;
  o.port = static_cast<std::uint16_t>(port);
  o.rate = rate;
  o.seconds = seconds;
  std::vector<double> latencies;
  long errors = 0;
  load::run_open_loop(
      o,
      [&](std::size_t i) {
        return load::load_request{"GET", targets[i % targets.size()], ""};
      },
      [&](const load::load_reply& r) {
        latencies.push_back(r.latency_ms);
        if (r.status != 200) ++errors;
      });
  return {static_cast<double>(latencies.size()), rate, percentile(latencies, 0.5),
          percentile(latencies, 0.99), errors};
}

/// Counts and latencies of the overload phase.
struct overload_figures {
  double offered_rate = 0;
  std::size_t connections = 0;
  std::size_t max_backlog = 0;
  long sent = 0, accepted = 0, rejected = 0, errors_5xx = 0, other = 0;
  std::vector<double> accepted_ms, rejected_ms;
  std::vector<std::int64_t> accepted_ids;
};

void count_reply(overload_figures& f, const load::load_reply& r) {
  ++f.sent;
  if (r.status == 202) {
    ++f.accepted;
    f.accepted_ms.push_back(r.latency_ms);
    auto doc = json::parse(r.body, nullptr, false);
    if (doc.contains("requests") && !doc["requests"].empty())
      f.accepted_ids.push_back(doc["requests"][0].value("id", std::int64_t{0}));
  } else if (r.status == 429) {
    ++f.rejected;
    f.rejected_ms.push_back(r.latency_ms);
  } else if (r.status >= 500) {
    ++f.errors_5xx;
  } else {
    ++f.other;
  }
}

/// Single submissions for hosts `prefix`0, `prefix`1, … offered at `rate` for `seconds`, open
/// loop.
overload_figures overload(int port, const std::string& prefix, double rate, int seconds,
                          std::size_t connections) {
  load::open_loop_options o;
  o.port = static_cast<std::uint16_t>(port);
  o.rate = rate;
  o.seconds = seconds;
  o.connections = connections;
  overload_figures f;
  f.offered_rate = rate;
  f.connections = connections;
  auto summary = load::run_open_loop(
      o,
      [&](std::size_t i) {
        return load::load_request{"POST", "/v1/requests", single_body(prefix + std::to_string(i))};
      },
      [&](const load::load_reply& r) { count_reply(f, r); });
  f.max_backlog = summary.max_backlog;
  return f;
}

/// Accepted requests that the store does not hold.
long count_lost(const std::string& url, const std::vector<std::int64_t>& ids) {
  ab::storage::store_options so;
  so.url = url;
  auto db = ab::storage::open_store(so, std::make_shared<ab::system_clock>());
  if (!db) return static_cast<long>(ids.size());
  long lost = 0;
  for (auto id : ids) lost += (*db)->request(id) ? 0 : 1;
  return lost;
}

void print_overload(const overload_figures& f, int seconds, long lost) {
  std::printf(
      "api overload latency: offered_per_s=%.0f connections=%zu accepted_per_s=%.0f "
      "accepted_p50_ms=%.2f accepted_p99_ms=%.2f rejected_429_p50_ms=%.2f "
      "rejected_429_p99_ms=%.2f max_waiting_for_connection=%zu\n",
      f.offered_rate, f.connections, static_cast<double>(f.accepted) / seconds,
      percentile(f.accepted_ms, 0.5), percentile(f.accepted_ms, 0.99),
      percentile(f.rejected_ms, 0.5), percentile(f.rejected_ms, 0.99), f.max_backlog);
  std::printf(
      "api overload: sent=%ld accepted=%ld rejected_429=%ld errors_5xx=%ld other=%ld lost=%ld\n",
      f.sent, f.accepted, f.rejected, f.errors_5xx, f.other, lost);
}

}  // namespace

/// The GET phases: queued requests of this run (`active_ids`, in turn: read from the database by
/// every GET, as only finished requests are kept by the node) closed-loop (with the database's
/// counters per GET) and at a fixed rate, then the baselines that say what bounds the closed-loop
/// figure on this machine: the same load generator against routes of the same server that do less
/// (`/healthz`: the HTTP stack and the generator alone; `/v1/node`: plus a message to an actor and
/// back and the audit trail), and the store's own rate for the same read with no HTTP or actors at
/// all.
void get_phases(const bench_options& o, const node_process& node,
                const std::vector<std::int64_t>& active_ids) {
  std::vector<std::string> targets;
  for (auto id : active_ids) targets.push_back("/v1/requests/" + std::to_string(id));
  db_meter db{o.url};
  auto status0 = db.read();
  cpu_meter get_cpu{node};
  auto closed = closed_loop_get(node.port(), o.seconds, targets);
  get_cpu.stop();
  auto status = db.read();
  std::printf(
      "api get: connections=64 requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%ld "
      "distinct_requests=%zu\n",
      closed.rate, closed.p50, closed.p99, closed.errors, targets.size());
  std::fputs(get_cpu.line("get", closed.calls).c_str(), stdout);
  // Every statement the database was sent meanwhile (the GETs' and the audit trail's writes).
  if (!status0.empty() && !status.empty() && closed.calls > 0) {
    std::printf("api get db: statements_per_call=%.2f\n",
                static_cast<double>(status["Questions"] - status0["Questions"]) / closed.calls);
    std::printf("api get db per call:%s\n", per_call(status0, status, closed.calls).c_str());
  }
  auto fixed =
      open_loop_get(node.port(), targets, o.get_rate > 0 ? o.get_rate : closed.rate / 2, o.seconds);
  std::printf(
      "api get fixed rate: requests_per_s=%.0f connections=64 p50_ms=%.2f p99_ms=%.2f "
      "errors=%ld\n",
      fixed.rate, fixed.p50, fixed.p99, fixed.errors);

  // A finished request: the node answers its GETs from the read it keeps (a finished request
  // never changes), so this is the GET without the database's read, beside the one above.
  if (auto id = finished_request(node.port())) {
    auto db0 = db.read();
    cpu_meter cpu{node};
    auto f = closed_loop_get(node.port(), o.seconds, {"/v1/requests/" + std::to_string(id)});
    cpu.stop();
    auto db1 = db.read();
    std::printf(
        "api get finished: connections=64 requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
        "errors=%ld\n",
        f.rate, f.p50, f.p99, f.errors);
    std::fputs(cpu.line("get finished", f.calls).c_str(), stdout);
    if (!db0.empty() && !db1.empty() && f.calls > 0)
      std::printf("api get finished db per call:%s\n", per_call(db0, db1, f.calls).c_str());
  }

  for (const char* route : {"/healthz", "/v1/node"}) {
    cpu_meter cpu{node};
    auto base = closed_loop_get(node.port(), o.seconds, {route});
    cpu.stop();
    std::printf(
        "api get baseline: route=%s connections=64 requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
        "errors=%ld\n",
        route, base.rate, base.p50, base.p99, base.errors);
    std::fputs(cpu.line(route[1] == 'h' ? "baseline healthz" : "baseline node", base.calls).c_str(),
               stdout);
  }
  auto store = store_ceiling(o.url, active_ids, 1, o.store_threads, o.seconds);
  std::printf(
      "api get baseline: store_request threads=%d requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
      "errors=%ld\n",
      o.store_threads, store.rate, store.p50, store.p99, store.errors);
  constexpr std::size_t batch = 16;
  auto batched = store_ceiling(o.url, active_ids, batch, o.store_threads, o.seconds);
  std::printf(
      "api get baseline: store_requests_by_id threads=%d batch=%zu requests_per_s=%.0f "
      "p50_ms=%.2f p99_ms=%.2f errors=%ld\n",
      o.store_threads, batch, batched.rate, batched.p50, batched.p99, batched.errors);
}

int run(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  if (!opts) {
    std::puts(
        "usage: ab-bench-api --store URL [--hosts N] [--singles N] [--seconds S] "
        "[--overload-factor F] [--overload-connections N] [--get-rate R] [--store-threads N] "
        "[--phases get|goodput|get,goodput] [--node-option NAME=VALUE]...");
    return 2;
  }
  const auto& o = *opts;
  // One line per phase as it ends, also into a pipe or a file.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  node_process node{argv[0], o.url, o.node_args};
  if (!node.port()) {
    std::fprintf(stderr, "ab-node did not start\n");
    return 1;
  }
  // Host names of this run, so that a store used before holds none of them.
  const auto run_id = "b" + std::to_string(std::time(nullptr)) + "-";
  client c{node.port()};
  auto register_rate = register_hosts(c, run_id + "h", 0, o.hosts);
  const int bulk_hosts = o.hosts / 2;
  // Requests of this run: queued, as the node has no workers.
  std::vector<std::int64_t> active_ids;
  auto bulk_rate = bulk_submit(c, run_id + "h", bulk_hosts, active_ids);
  if (active_ids.size() > 64) active_ids.resize(64);
  if (register_rate == 0 || bulk_rate == 0 || active_ids.empty()) {
    std::fprintf(stderr, "ab-bench-api: registering or bulk-submitting the hosts failed\n");
    return 1;
  }

  // The GETs first, so that the capacity is measured right before the overload it is compared
  // with (on a shared machine the load of the rest changes from minute to minute).
  if (o.get_phases) get_phases(o, node, active_ids);
  if (!o.goodput_phases) {
    std::printf("api bench: register_hosts_per_s=%.0f bulk_submit_hosts_per_s=%.0f\n",
                register_rate, bulk_rate);
    return 0;
  }

  db_meter db{o.url};
  auto capacity_db0 = db.read();
  cpu_meter capacity_cpu{node};
  const int singles_end = std::min(o.hosts, bulk_hosts + o.singles);
  auto single_rate = single_submit(node.port(), run_id + "h", bulk_hosts, singles_end);
  capacity_cpu.stop();
  auto capacity_cpu_line = capacity_cpu.line("capacity", singles_end - bulk_hosts);
  auto capacity_db = per_call(capacity_db0, db.read(), singles_end - bulk_hosts);
  std::printf(
      "api bench: register_hosts_per_s=%.0f bulk_submit_hosts_per_s=%.0f "
      "single_submit_per_s=%.0f\n",
      register_rate, bulk_rate, single_rate);

  // Every overload request names a host of its own, so that none is refused as busy.
  const double offered = o.overload_factor * single_rate;
  const int overload_hosts = static_cast<int>(offered * o.seconds);
  if (register_hosts(c, run_id + "o", 0, overload_hosts) == 0 && overload_hosts > 0) {
    std::fprintf(stderr, "ab-bench-api: registering the %d overload hosts failed\n",
                 overload_hosts);
    return 1;
  }

  auto overload_db0 = db.read();
  cpu_meter overload_cpu{node};
  auto f = overload(node.port(), run_id + "o", offered, o.seconds, o.overload_connections);
  overload_cpu.stop();
  auto overload_cpu_line = overload_cpu.line("overload", static_cast<double>(f.sent));
  auto overload_db = per_call(overload_db0, db.read(), static_cast<double>(f.accepted));
  node.stop();
  print_overload(f, o.seconds, count_lost(o.url, f.accepted_ids));
  // Goodput: what the node still accepts when offered 10x its capacity, against that capacity
  // (the single-submission rate it sustained unloaded).
  const double overloaded_rate = static_cast<double>(f.accepted) / o.seconds;
  std::printf(
      "api goodput: capacity_per_s=%.0f overloaded_accepted_per_s=%.0f goodput_ratio=%.2f\n",
      single_rate, overloaded_rate, single_rate > 0 ? overloaded_rate / single_rate : 0.0);
  // Where the CPU went while the capacity was measured and under the overload: on a machine
  // whose cores the load generator and the database share, this is what bounds the ratio.
  std::fputs(capacity_cpu_line.c_str(), stdout);
  std::fputs(overload_cpu_line.c_str(), stdout);
  // The database's work per accepted submission, unloaded and under the overload.
  if (!capacity_db.empty()) std::printf("api capacity db per accepted:%s\n", capacity_db.c_str());
  if (!overload_db.empty()) std::printf("api overload db per accepted:%s\n", overload_db.c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab-bench-api: %s\n", e.what());
    return 1;
  }
}
