#pragma once

// Keeps a blocking libldap connection from harming the process: a deadline that cuts it,
// and SIGPIPE blocked while it writes.

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace ab::auth::detail {

/// Cuts the watched sockets when a deadline passes: the backstop for hangs that libldap's
/// own timeouts miss. (Debian 12's libldap 2.5 with GnuTLS spins forever in the TLS
/// handshake with an `ldaps://` server that accepted the connection and never answers.)
class connection_guard {
 public:
  /// Starts the clock: the sockets are cut `limit` from now unless the guard is gone.
  explicit connection_guard(std::chrono::milliseconds limit);
  ~connection_guard();
  connection_guard(const connection_guard&) = delete;
  connection_guard& operator=(const connection_guard&) = delete;

  /// Watches the socket `fd`, through a duplicate: the guard never touches a descriptor
  /// number that libldap has closed and someone else reuses. Cut at once if already late.
  void watch(int fd);

  /// True once the deadline passed and the sockets were cut.
  bool expired() const;

  /// True if any socket was watched, that is a TCP connection was made.
  bool connected() const;

 private:
  void run(std::chrono::milliseconds limit);
  void cut(int fd) const;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  bool expired_ = false;
  std::vector<int> fds_;
  std::thread thread_;
};

/// Blocks SIGPIPE in the calling thread while it lives, and discards a SIGPIPE raised
/// meanwhile: libldap writes with write(), and a directory that closed its end must not
/// kill the process.
class sigpipe_block {
 public:
  sigpipe_block();
  ~sigpipe_block();
  sigpipe_block(const sigpipe_block&) = delete;
  sigpipe_block& operator=(const sigpipe_block&) = delete;

 private:
  sigset_t old_mask_{};
  bool was_pending_ = false;
};

}  // namespace ab::auth::detail
