#pragma once

// A private MariaDB server run by a test or a benchmark: its own data directory, a free
// loopback port, a database `autobuild` and a user for it; started and stopped by PID as a
// child process (Debian's mariadb-server binaries).

#include <sys/types.h>

#include <string>

namespace ab::harness {

/// A mariadbd child process on 127.0.0.1; killed (SIGKILL) by the destructor if running.
class mariadb_server {
 public:
  /// Initialises `dir`/data (mariadb-install-db), starts mariadbd with its output in
  /// `dir`/mariadbd.log, waits up to 60 s until it answers, and creates the database
  /// `autobuild` and a user with a random password. `ok()` tells whether all that happened;
  /// `output()` says why not.
  explicit mariadb_server(const std::string& dir);
  /// Initialises `dir`/data alone (the slow part, a few seconds), e.g. on another thread while
  /// a test starts other things; false if mariadb-install-db failed (`dir`/mariadbd.log says
  /// why). The server itself must be started by the thread that keeps it: a child process
  /// dies with the thread that started it.
  static bool install(const std::string& dir);
  ~mariadb_server();
  mariadb_server(const mariadb_server&) = delete;
  mariadb_server& operator=(const mariadb_server&) = delete;

  /// True if it serves.
  bool ok() const { return !url_.empty(); }
  /// `mysql://USER:PASS@127.0.0.1:PORT/autobuild`, or "" if it did not come up.
  const std::string& url() const { return url_; }
  /// Its process id while it runs; -1 once it ended.
  pid_t pid() const { return pid_; }
  /// What the set-up steps and the server printed so far.
  std::string output() const;
  /// Sends SIGTERM (SIGKILL after 30 s) and reaps it; returns its exit code, -1 if it had to
  /// be killed or was not running. Idempotent.
  int stop();
  /// SIGKILLs the server (a crash) and reaps it; idempotent.
  void kill();
  /// Starts the server again on its port and data (after `stop` or `kill`, or stopping it
  /// first if it runs) and waits up to 60 s until it answers; the URL stays the same. False,
  /// with `output()` saying why, if it did not come back.
  bool restart();

 private:
  /// Starts mariadbd on `cnf_` and waits until it answers `ping`; false if it did not.
  bool launch();
  /// Runs the `mariadb` client as root over the socket with `sql`; true on exit code 0.
  bool root_sql(const std::string& sql) const;

  std::string dir_;
  std::string cnf_;
  std::string log_path_;
  std::string url_;
  pid_t pid_ = -1;
};

}  // namespace ab::harness
