// ab-bench-api: the REST API of one ab-node under load, measured from outside over HTTP:
// bulk and single submissions, GET latency over 64 connections, and an overload phase whose
// accepted requests are checked against the store afterwards.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

/// A keep-alive HTTP/1.1 client connection to 127.0.0.1.
class client {
 public:
  explicit client(int port) : port_(port) { connect(); }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request and reads the answer; status 0 on a broken connection (reconnects).
  int call(const std::string& method, const std::string& path, const std::string& body,
           std::string* reply = nullptr) {
    auto req = method + " " + path +
               " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return reconnect();
    std::string buf;
    std::size_t end;
    char chunk[8192];
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return reconnect();
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    std::size_t length = 0;
    auto cl = buf.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
    while (buf.size() < end + 4 + length) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return reconnect();
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    if (reply) *reply = buf.substr(end + 4, length);
    auto status = std::stoi(buf.substr(9, 3));
    if (buf.find("Connection: close") < end) reconnect();
    return status;
  }

 private:
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
    return 0;
  }
  int port_;
  int fd_ = -1;
};

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int run(int argc, char** argv) {
  std::string url;
  int hosts = 20000, singles = 3000, seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--store")
      url = argv[i + 1];
    else if (a == "--hosts")
      hosts = std::stoi(argv[i + 1]);
    else if (a == "--singles")
      singles = std::stoi(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::stoi(argv[i + 1]);
  }
  if (url.empty()) {
    std::puts("usage: ab-bench-api --store URL [--hosts N] [--singles N] [--seconds S]");
    return 2;
  }
  auto dir = std::filesystem::temp_directory_path() / ("ab_bench_api_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto out_path = (dir / "node.out").string();
  auto binary = (std::filesystem::path(argv[0]).parent_path() / "ab-node").string();
  pid_t pid = fork();
  if (pid == 0) {
    freopen(out_path.c_str(), "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(binary.c_str(), binary.c_str(), "--store", url.c_str(), "--listen", "127.0.0.1:0",
          "--node-id", "bench-api", "--workers", "{\"default\": 0}", nullptr);
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 300 && !port; ++i) {
    std::ifstream in{out_path};
    std::stringstream s;
    s << in.rdbuf();
    std::smatch m;
    auto text = s.str();
    if (std::regex_search(text, m, std::regex{R"(listening on http://[^:]+:(\d+))"}))
      port = std::stoi(m[1]);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!port) {
    std::fprintf(stderr, "ab-node did not start\n");
    return 1;
  }
  client c{port};

  // Inventory: hosts registered in bulks of 1000.
  auto t0 = steady::now();
  for (int at = 0; at < hosts; at += 1000) {
    json list = json::array();
    for (int i = at; i < std::min(hosts, at + 1000); ++i)
      list.push_back({{"name", "h" + std::to_string(i)},
                      {"site", "dc1"},
                      {"bmc_endpoint", "https://bmc-" + std::to_string(i)},
                      {"credential_ref", "r"}});
    if (c.call("POST", "/v1/hosts", json{{"hosts", list}}.dump()) != 201) return 1;
  }
  auto register_rate = hosts / seconds_since(t0);

  // Bulk submissions: the first half of the hosts, 100 per call.
  const int bulk_hosts = hosts / 2;
  t0 = steady::now();
  for (int at = 0; at < bulk_hosts; at += 100) {
    json list = json::array();
    for (int i = at; i < std::min(bulk_hosts, at + 100); ++i)
      list.push_back("h" + std::to_string(i));
    if (c.call("POST", "/v1/requests", json{{"action", "power_on"}, {"hosts", list}}.dump()) != 202)
      return 1;
  }
  auto bulk_rate = bulk_hosts / seconds_since(t0);

  // Single submissions from 16 connections.
  std::atomic<int> next{bulk_hosts};
  const int single_end = std::min(hosts, bulk_hosts + singles);
  t0 = steady::now();
  {
    std::vector<std::thread> ts;
    ts.reserve(16);
    for (int t = 0; t < 16; ++t)
      ts.emplace_back([&] {
        client mine{port};
        for (int i; (i = next++) < single_end;)
          mine.call("POST", "/v1/requests",
                    R"({"action":"power_on","host":"h)" + std::to_string(i) + R"("})");
      });
    for (auto& t : ts) t.join();
  }
  auto single_rate = (single_end - bulk_hosts) / seconds_since(t0);

  // GET of one request over 64 connections, as fast as they are answered.
  std::vector<double> latencies;
  std::mutex mu;
  std::atomic<long> gets{0}, get_errors{0};
  t0 = steady::now();
  {
    std::vector<std::thread> ts;
    ts.reserve(64);
    for (int t = 0; t < 64; ++t)
      ts.emplace_back([&] {
        client mine{port};
        std::vector<double> local;
        while (seconds_since(t0) < seconds) {
          auto s = steady::now();
          auto st = mine.call("GET", "/v1/requests/1", "");
          local.push_back(seconds_since(s) * 1000);
          ++gets;
          if (st != 200) ++get_errors;
        }
        std::lock_guard<std::mutex> guard{mu};
        latencies.insert(latencies.end(), local.begin(), local.end());
      });
    for (auto& t : ts) t.join();
  }
  auto get_rate = static_cast<double>(gets.load()) / seconds_since(t0);

  // Overload: 256 connections submit single requests for the remaining hosts without pause.
  std::atomic<long> sent{0}, accepted{0}, rejected{0}, errors_5xx{0}, other{0};
  std::vector<std::int64_t> accepted_ids;
  std::atomic<int> host{single_end};
  t0 = steady::now();
  {
    std::vector<std::thread> ts;
    ts.reserve(256);
    for (int t = 0; t < 256; ++t)
      ts.emplace_back([&] {
        client mine{port};
        std::vector<std::int64_t> ids;
        while (seconds_since(t0) < seconds) {
          int i = host++;
          if (i >= hosts) break;
          std::string reply;
          auto st =
              mine.call("POST", "/v1/requests",
                        R"({"action":"power_on","host":"h)" + std::to_string(i) + R"("})", &reply);
          ++sent;
          if (st == 202) {
            ++accepted;
            ids.push_back(json::parse(reply)["requests"][0]["id"].get<std::int64_t>());
          } else if (st == 429) {
            ++rejected;
          } else if (st >= 500) {
            ++errors_5xx;
          } else {
            ++other;
          }
        }
        std::lock_guard<std::mutex> guard{mu};
        accepted_ids.insert(accepted_ids.end(), ids.begin(), ids.end());
      });
    for (auto& t : ts) t.join();
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);

  // Every accepted request must be in the store.
  ab::storage::store_options so;
  so.url = url;
  auto db = ab::storage::open_store(so, std::make_shared<ab::system_clock>());
  long lost = 0;
  if (db)
    for (auto id : accepted_ids) lost += (*db)->request(id) ? 0 : 1;
  else
    lost = static_cast<long>(accepted_ids.size());
  std::filesystem::remove_all(dir);

  std::printf(
      "api bench: register_hosts_per_s=%.0f bulk_submit_hosts_per_s=%.0f "
      "single_submit_per_s=%.0f\n",
      register_rate, bulk_rate, single_rate);
  std::printf("api get: connections=64 requests_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%ld\n",
              get_rate, percentile(latencies, 0.5), percentile(latencies, 0.99), get_errors.load());
  std::printf(
      "api overload: sent=%ld accepted=%ld rejected_429=%ld errors_5xx=%ld other=%ld lost=%ld\n",
      sent.load(), accepted.load(), rejected.load(), errors_5xx.load(), other.load(), lost);
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
