// The harness that runs the project's binaries as child processes, on /bin/sh stand-ins.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "harness/child_process.hpp"
#include "harness/server_process.hpp"

namespace ab::harness {
namespace {

using namespace std::chrono_literals;

std::string log_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("ab_harness_" + std::to_string(::getpid()) + "_" + name + ".log"))
      .string();
}

/// A shell "server" that prints a listening line, then runs until SIGTERM, exiting 3.
server_process fake_server(const std::string& log) {
  return {"/bin/sh",
          {"-c",
           "trap 'exit 3' TERM; echo 'fake: listening on http://127.0.0.1:4321, more';"
           " while :; do sleep 0.05; done"},
          log};
}

TEST(ServerProcess, ReadsThePortFromTheListeningLineAndTellsTheExitCodeOfSigterm) {
  auto log = log_file("listens");
  auto p = fake_server(log);
  ASSERT_TRUE(p.ok()) << p.output();
  EXPECT_EQ(p.port(), 4321);
  EXPECT_GT(p.pid(), 0);
  EXPECT_GT(p.rss_mb(), 0.0);
  EXPECT_EQ(p.terminate(), 3);
  EXPECT_EQ(p.pid(), -1);
  EXPECT_EQ(p.terminate(), -1) << "a second terminate has nothing to stop";
  std::filesystem::remove(log);
}

TEST(ServerProcess, TellsTheExitCodeAndOutputOfAProcessThatEndsBeforeListening) {
  auto log = log_file("early");
  server_process p("/bin/sh", {"-c", "echo 'bad option' >&2; exit 7"}, log);
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.early_exit_code(), 7);
  EXPECT_NE(p.output().find("bad option"), std::string::npos) << p.output();
  std::filesystem::remove(log);
}

TEST(ServerProcess, AListeningLineOfAnEarlierRunInTheSameLogDoesNotCount) {
  auto log = log_file("reused");
  std::ofstream(log) << "ab-node: listening on http://127.0.0.1:1111, store x\n";
  server_process p("/bin/sh", {"-c", "exit 2"}, log);
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.early_exit_code(), 2);
  std::filesystem::remove(log);
}

TEST(ChildProcess, WaitExitKillsAChildThatOutlivesItsLimitAndReapsIt) {
  auto log = log_file("sleeper");
  pid_t pid = spawn_child({"sleep", "60"}, log);
  ASSERT_GT(pid, 0);
  EXPECT_GT(rss_kb(pid), 0);
  EXPECT_GE(cpu_seconds(pid), 0.0);
  EXPECT_EQ(wait_exit(pid, 50ms), -1);
  EXPECT_NE(::kill(pid, 0), 0) << "the child is gone and reaped";
  std::filesystem::remove(log);
}

TEST(ChildProcess, StopChildEndsAChildAndReturnsItsExitCode) {
  auto log = log_file("stopped");
  pid_t pid = spawn_child(
      {"/bin/sh", "-c", "trap 'exit 5' TERM; echo ready; while :; do sleep 0.05; done"}, log);
  ASSERT_GT(pid, 0);
  // SIGTERM only once the shell has set its trap.
  auto end = std::chrono::steady_clock::now() + 10s;
  while (read_text(log).find("ready") == std::string::npos &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(stop_child(pid, 10s), 5);
  std::filesystem::remove(log);
}

TEST(ChildProcess, AFreePortCanBeBoundOnLoopback) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    int port = free_port(type);
    ASSERT_GT(port, 0);
    int fd = ::socket(AF_INET, type, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << port;
    ::close(fd);
  }
}

TEST(ChildProcess, AFileThatCannotBeReadReadsAsEmpty) {
  EXPECT_EQ(read_text("/nonexistent/ab-harness"), "");
}

}  // namespace
}  // namespace ab::harness
