#include "bmc/detail/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "core/error.hpp"

namespace ab::bmc::detail {

namespace {

using clock = std::chrono::steady_clock;

/// A pipe whose ends close themselves.
struct pipe_pair {
  int read = -1, write = -1;
  pipe_pair() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) == 0) {
      read = fds[0];
      write = fds[1];
    }
  }
  ~pipe_pair() {
    close_read();
    close_write();
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  bool ok() const { return read >= 0 && write >= 0; }
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

/// Pointers into `strings` ending with a null, as exec wants them.
std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (const auto& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

/// Starts the child with its stdout/stderr on the pipes' write ends; its pid, or -errno.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const pipe_pair& out, const pipe_pair& err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  // The child starts with no blocked signals and default handlers, whatever this thread has.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  auto args = c_strings(argv);
  auto vars = c_strings(env);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), vars.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -rc;
}

/// Appends what `fd` has to `sink` (up to the limit); false once the stream ended.
bool drain(int fd, std::string& sink) {
  std::array<char, 4096> buf{};
  ssize_t n = ::read(fd, buf.data(), buf.size());
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  auto keep =
      std::min(static_cast<std::size_t>(n), output_limit - std::min(output_limit, sink.size()));
  sink.append(buf.data(), keep);
  return true;
}

/// Milliseconds left until `deadline`, at least 0.
int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
}

/// Reads both pipes until they end or the deadline passes; true if they ended in time.
bool collect(pipe_pair& out, pipe_pair& err, run_result& result, clock::time_point deadline) {
  while (out.read >= 0 || err.read >= 0) {
    std::array<pollfd, 2> fds{pollfd{out.read, POLLIN, 0}, pollfd{err.read, POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (left == 0) return false;
    int n = ::poll(fds.data(), fds.size(), left);
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    if (fds[0].revents != 0 && !drain(out.read, result.out)) out.close_read();
    if (fds[1].revents != 0 && !drain(err.read, result.err)) err.close_read();
  }
  return true;
}

/// Waits for `pid` until the deadline (it may close its outputs before it exits); its exit
/// code (-1 if a signal ended it, or if it cannot be waited for), or nothing if it still runs.
std::optional<int> wait_for(pid_t pid, clock::time_point deadline) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 && errno != EINTR) return -1;
    if (clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

/// Kills and reaps `pid`.
void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

caf::expected<run_result> run(const std::vector<std::string>& argv,
                              const std::vector<std::string>& env,
                              std::chrono::milliseconds timeout) {
  if (argv.empty()) return make_error(errc::invalid_argument, "no program to run");
  auto deadline = clock::now() + timeout;
  pipe_pair out, err;
  if (!out.ok() || !err.ok())
    return make_error(errc::unavailable,
                      "cannot make a pipe: " + std::string{std::strerror(errno)});
  pid_t pid = spawn(argv, env, out, err);
  if (pid < 0)
    return make_error(errc::unavailable,
                      "cannot start " + argv[0] + ": " + std::string{std::strerror(-pid)});
  // Only the child may hold the write ends, so the pipes end when it does.
  out.close_write();
  err.close_write();
  run_result result;
  std::optional<int> code;
  if (collect(out, err, result, deadline)) code = wait_for(pid, deadline);
  if (!code) {
    kill_and_reap(pid);
    result.timed_out = true;
    return result;
  }
  result.exit_code = *code;
  return result;
}

}  // namespace ab::bmc::detail
