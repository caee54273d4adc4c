#include "auth/detail/connection_guard.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

namespace ab::auth::detail {

namespace {

sigset_t only_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

connection_guard::connection_guard(std::chrono::milliseconds limit)
    : thread_([this, limit] { run(limit); }) {}

connection_guard::~connection_guard() {
  {
    std::lock_guard lock{mutex_};
    done_ = true;
  }
  wake_.notify_one();
  thread_.join();
  for (int fd : fds_) ::close(fd);
}

void connection_guard::watch(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return;
  std::lock_guard lock{mutex_};
  fds_.push_back(copy);
  if (expired_) cut(copy);
}

bool connection_guard::expired() const {
  std::lock_guard lock{mutex_};
  return expired_;
}

bool connection_guard::connected() const {
  std::lock_guard lock{mutex_};
  return !fds_.empty();
}

void connection_guard::run(std::chrono::milliseconds limit) {
  std::unique_lock lock{mutex_};
  if (wake_.wait_for(lock, limit, [this] { return done_; })) return;
  expired_ = true;
  for (int fd : fds_) cut(fd);
}

void connection_guard::cut(int fd) const {
  // Only the reading side: a blocked or spinning read returns end-of-file at once, while
  // libldap's later writes (its unbind) still succeed instead of raising SIGPIPE.
  ::shutdown(fd, SHUT_RD);
}

sigpipe_block::sigpipe_block() {
  auto pipe = only_sigpipe();
  pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
  was_pending_ = sigpipe_pending();
}

sigpipe_block::~sigpipe_block() {
  // A SIGPIPE that became pending while blocked came from this thread's writes: discard it.
  if (!was_pending_ && sigismember(&old_mask_, SIGPIPE) == 0 && sigpipe_pending()) {
    auto pipe = only_sigpipe();
    timespec now{0, 0};
    sigtimedwait(&pipe, nullptr, &now);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace ab::auth::detail
