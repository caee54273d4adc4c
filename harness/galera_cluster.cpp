#include "harness/galera_cluster.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "harness/child_process.hpp"

namespace ab::harness {

namespace {

using namespace std::chrono_literals;

/// The value of `KEY=value` line `key` in `text`, "" if none.
std::string value_of(const std::string& text, const std::string& key) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

/// The `haproxy ...: node1 UP, node2 DOWN, node3 UP; writes go to node1` line of a status.
std::string haproxy_line(const std::string& status) {
  std::istringstream in{status};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("haproxy pid ", 0) == 0) return line;
  return "";
}

}  // namespace

galera_cluster::galera_cluster(galera_options options) : options_(std::move(options)) {
  dir_ = options_.dir;
  if (dir_.empty()) {
    auto pattern = (std::filesystem::temp_directory_path() / "ab_galera_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      output_ = "cannot make a directory under the temp directory\n";
      return;
    }
    dir_ = pattern;
    own_dir_ = true;
    // The nodes run as the mysql user: it must reach its datadirs inside.
    ::chmod(dir_.c_str(), 0755);
  }
  running_ = true;
  auto started = script("start", {}, options_.start_limit);
  if (!started.ok()) return;
  url_ = value_of(read_text(dir_ + "/env"), "AB_GALERA_URL");
}

galera_cluster::~galera_cluster() {
  stop();
  if (own_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

command_result galera_cluster::run(const std::vector<std::string>& argv,
                                   std::chrono::seconds limit) {
  auto log = dir_ + "/harness-" + std::to_string(++runs_) + ".log";
  command_result result;
  result.code = wait_exit(spawn_child(argv, log), limit);
  result.output = read_text(log);
  std::filesystem::remove(log);
  return result;
}

command_result galera_cluster::script(const std::string& command,
                                      const std::vector<std::string>& args,
                                      std::chrono::seconds limit) {
  std::vector<std::string> argv{"env", "AB_GALERA_OWNER_PID=" + std::to_string(::getpid()),
                                options_.source_dir + "/scripts/galera", command};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--dir", dir_});
  auto result = run(argv, limit);
  output_ += "$ scripts/galera " + command;
  for (const auto& a : args) output_ += " " + a;
  output_ += "\n" + result.output;
  return result;
}

int galera_cluster::port_of(const std::string& key) const {
  auto value = value_of(read_text(dir_ + "/ports"), key);
  return value.empty() ? 0 : std::atoi(value.c_str());
}

int galera_cluster::proxy_port() const {
  return port_of("lb");
}

int galera_cluster::node_port(int node) const {
  return port_of("sql" + std::to_string(node));
}

bool galera_cluster::kill(int node) {
  return script("kill", {std::to_string(node)}, 60s).ok();
}

bool galera_cluster::restart(int node, bool wipe) {
  std::vector<std::string> args{std::to_string(node)};
  if (wipe) args.emplace_back("--wipe");
  return script("restart", args, options_.start_limit).ok();
}

std::string galera_cluster::status() {
  return run({options_.source_dir + "/scripts/galera", "status", "--dir", dir_}, 30s).output;
}

int galera_cluster::writer() {
  auto line = haproxy_line(status());
  auto at = line.find("writes go to node");
  if (at == std::string::npos) return 0;
  char digit = line[at + 17];
  return digit >= '1' && digit <= '3' ? digit - '0' : 0;
}

std::string galera_cluster::proxy_state(int node) {
  auto line = haproxy_line(status());
  auto name = "node" + std::to_string(node) + " ";
  auto from = line.find(": ");
  auto to = line.find(';');
  if (from == std::string::npos || to == std::string::npos || to < from) return "";
  std::istringstream in{line.substr(from + 2, to - from - 2)};
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty() && item.front() == ' ') item.erase(0, 1);
    if (item.rfind(name, 0) == 0) return item.substr(name.size());
  }
  return "";
}

bool galera_cluster::wait_for_writer(int node, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (writer() == node) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(200ms);
  }
}

command_result galera_cluster::root_sql(int node, const std::string& sql) {
  return run({"mariadb", "--defaults-file=" + dir_ + "/node" + std::to_string(node) + "/my.cnf",
              "-uroot", "--connect-timeout=5", "-N", "-B", "-e", sql},
             60s);
}

command_result galera_cluster::proxy_sql(const std::string& sql) {
  return run({"mariadb", "--defaults-file=" + dir_ + "/client.cnf", "--connect-timeout=5", "-N",
              "-B", "-e", sql},
             60s);
}

bool galera_cluster::stop() {
  if (!running_) return true;
  running_ = false;
  url_.clear();
  return script("stop", {}, 120s).ok();
}

}  // namespace ab::harness
