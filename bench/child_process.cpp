#include "bench/child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <thread>

namespace ab::bench {

child_process::child_process(const std::string& binary, const std::vector<std::string>& args,
                             std::string out_path)
    : out_path_(std::move(out_path)) {
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(out_path_.c_str(), "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  const std::regex listening{R"(listening on https?://[^:\s]+:(\d+))"};
  for (int i = 0; i < 500 && port_ == 0; ++i) {
    std::ifstream in{out_path_};
    std::string text{std::istreambuf_iterator<char>(in), {}};
    std::smatch m;
    if (std::regex_search(text, m, listening))
      port_ = std::stoi(m[1]);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

child_process::~child_process() {
  stop();
}

void child_process::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
}

double child_process::rss_mb() const {
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return static_cast<double>(kb) / 1024.0;
    }
    std::getline(in, key);
  }
  return 0;
}

double child_process::cpu_seconds() const {
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/stat"};
  std::string text{std::istreambuf_iterator<char>(in), {}};
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace ab::bench
