#include "harness/haproxy_process.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/child_process.hpp"

namespace ab::harness {

namespace {

/// True if something accepts a TCP connection on 127.0.0.1:`port`.
bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// The fields of one CSV line of `show stat`.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in{line};
  std::string field;
  while (std::getline(in, field, ',')) out.push_back(field);
  return out;
}

}  // namespace

std::string render_haproxy_config(const std::string& text,
                                  const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    auto open = text.find("${", at);
    if (open == std::string::npos) break;
    auto close = text.find('}', open);
    if (close == std::string::npos) break;
    auto inner = text.substr(open + 2, close - open - 2);
    auto name = inner.substr(0, inner.find('-'));
    out += text.substr(at, open - at);
    auto value = values.find(name);
    out += value != values.end() ? value->second : text.substr(open, close + 1 - open);
    at = close + 1;
  }
  return out + text.substr(at);
}

std::string haproxy_binary() {
  if (const char* env = std::getenv("AB_HAPROXY"); env && *env) return env;
  if (std::filesystem::exists("/usr/sbin/haproxy")) return "/usr/sbin/haproxy";
  return "haproxy";
}

haproxy_process::haproxy_process(const std::string& template_path,
                                 std::map<std::string, std::string> values, const std::string& dir)
    : log_path_(dir + "/haproxy.log"), stats_path_(dir + "/stats.sock") {
  // HAProxy takes a socket path of at most 97 bytes: a long directory gets one under /tmp.
  if (stats_path_.size() > 90)
    stats_path_ = "/tmp/ab-haproxy-" + std::to_string(std::hash<std::string>{}(dir)) + ".sock";
  int port = free_port(SOCK_STREAM);
  values["AB_LB_BIND"] = "127.0.0.1:" + std::to_string(port);
  values["AB_LB_STATS"] = stats_path_;
  auto config = dir + "/haproxy.cfg";
  {
    std::ofstream out{config, std::ios::trunc};
    out << render_haproxy_config(read_text(template_path), values);
  }
  std::ofstream emptied{log_path_, std::ios::trunc};
  emptied.close();
  // A config HAProxy refuses says why in the log (not with -q, which hides the alerts too),
  // and the process is not started.
  if (wait_exit(spawn_child(haproxy_binary(), {"-c", "-f", config}, log_path_),
                std::chrono::seconds(10)) != 0)
    return;
  pid_ = spawn_child(haproxy_binary(), {"-db", "-f", config}, log_path_);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < end) {
    if (reaped(pid_)) {
      pid_ = -1;
      return;
    }
    if (accepts(port)) {
      port_ = port;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

haproxy_process::~haproxy_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(10));
  }
  std::error_code ignored;
  std::filesystem::remove(stats_path_, ignored);
}

std::string haproxy_process::output() const {
  return read_text(log_path_);
}

std::string haproxy_process::admin(const std::string& command) const {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (stats_path_.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return "";
  }
  std::memcpy(addr.sun_path, stats_path_.c_str(), stats_path_.size() + 1);
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    // Without "prompt" mode HAProxy answers one command and closes.
    auto line = command + "\n";
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
      char chunk[4096];
      ssize_t n;
      while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
        answer.append(chunk, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

std::string haproxy_process::server_status(const std::string& backend,
                                           const std::string& server) const {
  return server_field(backend, server, "status");
}

std::string haproxy_process::server_field(const std::string& backend, const std::string& server,
                                          const std::string& field) const {
  std::stringstream in{admin("show stat")};
  std::string line;
  std::size_t column = std::string::npos;
  while (std::getline(in, line)) {
    auto fields = csv_fields(line.rfind("# ", 0) == 0 ? line.substr(2) : line);
    if (line.rfind("# ", 0) == 0) {
      for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i] == field) column = i;
      continue;
    }
    if (fields.size() > column && fields[0] == backend && fields[1] == server)
      return fields[column];
  }
  return "";
}

int haproxy_process::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool exited = reaped(pid_, &status);
  while (!exited && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    exited = reaped(pid_, &status);
  }
  if (!exited) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(10));
  }
  pid_ = -1;
  if (!exited) return -1;
  // HAProxy ends on SIGTERM by the signal itself (its "hard stop"): that is a clean stop.
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGTERM ? 0 : -1;
  return WEXITSTATUS(status);
}

}  // namespace ab::harness
