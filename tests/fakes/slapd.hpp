#pragma once

// A private OpenLDAP server (slapd) for directory-login tests.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ab::testing {

/// How to start a test directory.
struct slapd_options {
  /// Also serve TLS: StartTLS on `url()` and `ldaps_url()`, with a certificate for
  /// 127.0.0.1 signed by a throwaway CA (`ca_file()`).
  bool tls = false;
};

/// A private `slapd` on free loopback ports, run from its own temp dir and loaded with the
/// test directory below. The destructor stops it and removes the dir; if the test process
/// dies first, the kernel kills it (PR_SET_PDEATHSIG).
///
/// The directory, under `dc=example,dc=org`, with the memberof overlay on (entries under
/// `ou=people`; login / password → groups):
/// - `alice` / alice-secret (plain text) → fleet-operators, auditors (groupOfNames);
/// - `bob` / bob-secret ({SSHA}) → none;
/// - `carol` / carol-secret ({SSHA}) → deployers (posixGroup, memberUid only: no memberOf);
/// - `o'hara, k (ops)*` / ohara-secret, entry `uid=o'hara\, k (ops)*` → auditors.
///
/// Groups are under `ou=groups`. Bound users may read everything but passwords; anonymous
/// clients may only bind.
class slapd_process {
 public:
  /// The directory's suffix.
  static constexpr const char* suffix = "dc=example,dc=org";

  /// Starts slapd, waits until it answers and loads the directory (at most about 30 s);
  /// `ok()` tells whether that worked and `error()` why not.
  explicit slapd_process(slapd_options options = {});
  ~slapd_process();
  slapd_process(const slapd_process&) = delete;
  slapd_process& operator=(const slapd_process&) = delete;

  /// True if slapd runs and the directory is loaded.
  bool ok() const { return error_.empty(); }
  /// Why start-up failed, with slapd's output; empty if it worked.
  const std::string& error() const { return error_; }
  /// `ldap://127.0.0.1:PORT/`.
  std::string url() const;
  /// `ldaps://127.0.0.1:PORT/` (with `tls` only).
  std::string ldaps_url() const;
  /// The PEM file of the CA that signed the server certificate (with `tls` only).
  std::string ca_file() const { return dir_ + "/ca.pem"; }

  /// Freezes slapd (SIGSTOP): connections are still accepted by the kernel, never answered.
  void pause();
  /// Lets a paused slapd run again (SIGCONT).
  void resume();
  /// Stops slapd (SIGTERM, then SIGKILL after 10 s) and waits for it; idempotent.
  void stop();

 private:
  bool start_once();
  std::string make_certificates();
  std::string run_tool(const std::string& what, const std::vector<std::string>& args);
  std::string log() const;

  slapd_options options_;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int tls_port_ = 0;
  std::string error_;
};

}  // namespace ab::testing
