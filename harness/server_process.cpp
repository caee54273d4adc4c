#include "harness/server_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "harness/child_process.hpp"

namespace ab::harness {

server_process::server_process(const std::string& binary, const std::vector<std::string>& args,
                               std::string log_path)
    : log_path_(std::move(log_path)) {
  // Emptied: a listening line of an earlier run in the same file must not count.
  std::ofstream emptied{log_path_, std::ios::trunc};
  emptied.close();
  pid_ = spawn_child(binary, args, log_path_);
  const std::regex listening{R"(listening on https?://[^:\s]+:(\d+))"};
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {
    std::smatch m;
    auto out = output();
    if (std::regex_search(out, m, listening)) {
      port_ = std::stoi(m[1]);
      return;
    }
    int status = 0;
    if (reaped(pid_, &status)) {
      pid_ = -1;
      if (WIFEXITED(status)) early_exit_ = WEXITSTATUS(status);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

server_process::~server_process() {
  kill();
}

std::string server_process::output() const {
  return read_text(log_path_);
}

int server_process::terminate(int timeout_s) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(pid_, std::chrono::seconds(timeout_s));
  pid_ = -1;
  return code;
}

void server_process::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void server_process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

double server_process::rss_mb() const {
  return pid_ > 0 ? harness::rss_mb(pid_) : 0.0;
}

double server_process::cpu_seconds() const {
  return pid_ > 0 ? harness::cpu_seconds(pid_) : 0.0;
}

}  // namespace ab::harness
