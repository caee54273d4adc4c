#include "harness/mariadb_server.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "harness/child_process.hpp"

namespace ab::harness {

namespace {

/// 24 random letters and digits.
std::string random_password() {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<std::size_t> pick{0, sizeof alphabet - 2};
  std::string out;
  for (int i = 0; i < 24; ++i) out += alphabet[pick(rd)];
  return out;
}

/// Writes `dir`/my.cnf for a server on `port`; returns its path.
std::string write_cnf(const std::string& dir, int port) {
  std::filesystem::create_directories(dir + "/data");
  // Its own temporary folder: a mariadbd that starts deletes every #sql file of its tmpdir,
  // which in a shared /tmp broke a concurrent mariadb-install-db (mysql.tmp_user_sys).
  std::filesystem::create_directories(dir + "/tmp");
  // A unix socket path is limited to 107 bytes: a long directory gets one under /tmp.
  auto sock = dir + "/mysqld.sock";
  if (sock.size() >= 100)
    sock = "/tmp/ab-mariadb-" + std::to_string(std::hash<std::string>{}(dir)) + ".sock";
  auto cnf = dir + "/my.cnf";
  std::ofstream out{cnf, std::ios::trunc};
  out << "[client]\nsocket=" << sock << "\nport=" << port << "\n\n[mysqld]\ndatadir=" << dir
      << "/data\ntmpdir=" << dir << "/tmp\nsocket=" << sock << "\npid-file=" << dir
      << "/mysqld.pid\nport=" << port << "\nbind-address=127.0.0.1\nuser=root\nskip-name-resolve\n"
      << "innodb_buffer_pool_size=64M\ninnodb_log_file_size=16M\n"
      << "innodb_flush_log_at_trx_commit=1\nmax_connections=200\nskip-log-bin\n";
  return cnf;
}

}  // namespace

bool mariadb_server::install(const std::string& dir) {
  if (std::filesystem::exists(dir + "/data/mysql")) return true;
  auto cnf = write_cnf(dir, 0);
  return wait_exit(spawn_child("mariadb-install-db",
                               {"--defaults-file=" + cnf,
                                "--auth-root-authentication-method=normal", "--skip-test-db"},
                               dir + "/mariadbd.log"),
                   std::chrono::seconds(60)) == 0;
}

mariadb_server::mariadb_server(const std::string& dir)
    : dir_(dir), cnf_(dir + "/my.cnf"), log_path_(dir + "/mariadbd.log") {
  if (!install(dir_)) return;
  int port = free_port(SOCK_STREAM);
  write_cnf(dir_, port);
  if (!launch()) return;
  auto password = random_password();
  std::string sql;
  for (const auto* host : {"127.0.0.1", "localhost"})
    sql += std::string{"CREATE USER IF NOT EXISTS 'autobuild'@'"} + host + "' IDENTIFIED BY '" +
           password + "'; GRANT ALL PRIVILEGES ON *.* TO 'autobuild'@'" + host + "';";
  if (!root_sql(sql + "CREATE DATABASE IF NOT EXISTS autobuild;")) return;
  url_ = "mysql://autobuild:" + password + "@127.0.0.1:" + std::to_string(port) + "/autobuild";
}

mariadb_server::~mariadb_server() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_, std::chrono::seconds(10));
}

bool mariadb_server::launch() {
  pid_ = spawn_child("mariadbd", {"--defaults-file=" + cnf_}, log_path_);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    if (reaped(pid_)) {
      pid_ = -1;
      return false;
    }
    if (wait_exit(spawn_child("mariadb-admin",
                              {"--defaults-file=" + cnf_, "-uroot", "--connect-timeout=1", "ping"},
                              dir_ + "/ping.log"),
                  std::chrono::seconds(5)) == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void mariadb_server::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

bool mariadb_server::restart() {
  if (url_.empty()) return false;
  if (pid_ > 0) stop();
  return launch();
}

bool mariadb_server::root_sql(const std::string& sql) const {
  return wait_exit(
             spawn_child("mariadb", {"--defaults-file=" + cnf_, "-uroot", "-e", sql}, log_path_),
             std::chrono::seconds(30)) == 0;
}

std::string mariadb_server::output() const {
  return read_text(log_path_);
}

int mariadb_server::stop() {
  if (pid_ <= 0) return -1;
  int code = stop_child(pid_, std::chrono::seconds(30));
  pid_ = -1;
  return code;
}

}  // namespace ab::harness
