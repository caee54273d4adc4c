#pragma once

// A private IPMI BMC (OpenIPMI's ipmi_sim) for IPMI driver tests.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ab::testing {

/// How to start a simulated BMC.
struct ipmi_sim_options {
  /// Give the BMC FRU data (device 0) that names `ipmi_sim_process::manufacturer`, `model` and
  /// `serial`; without it, `fru print` fails as on a BMC without FRU.
  bool fru = true;
};

/// An `ipmi_sim` on a free loopback UDP port, run from its own temp dir with one admin user
/// (`user` / `password`, IPMI 2.0 with cipher suite 3). Its chassis is a `chassis_control`
/// script written by the fixture: it keeps the power and boot device in a state file
/// (`chassis("power")` is "0" or "1", `chassis("boot")` one of none, pxe, default (disk),
/// cdrom, bios) and logs every call it gets (`calls()`, e.g. "set power 1"). A soft shutdown
/// turns the power off; a reset leaves it as it is. The destructor stops the simulator and
/// removes the dir; if the test process dies first, the kernel kills it (PR_SET_PDEATHSIG).
class ipmi_sim_process {
 public:
  /// The admin user's name and password.
  static constexpr const char* user = "admin";
  static constexpr const char* password = "ipmi-secret";
  /// What the FRU data says (with `ipmi_sim_options::fru`).
  static constexpr const char* manufacturer = "Example Corp";
  static constexpr const char* model = "AB-1000";
  static constexpr const char* serial = "SN-0042";

  /// Starts ipmi_sim and waits until it answers an RMCP ping (at most about 10 s); `ok()`
  /// tells whether that worked and `error()` why not.
  explicit ipmi_sim_process(ipmi_sim_options options = {});
  ~ipmi_sim_process();
  ipmi_sim_process(const ipmi_sim_process&) = delete;
  ipmi_sim_process& operator=(const ipmi_sim_process&) = delete;

  /// True if the simulator runs and answers.
  bool ok() const { return error_.empty(); }
  /// Why start-up failed, with the simulator's output; empty if it worked.
  const std::string& error() const { return error_; }
  /// `127.0.0.1:PORT`, as `bmc::target::endpoint` wants it.
  std::string endpoint() const;
  /// The value the chassis keeps under `name` (`power`, `boot`), or "" if none.
  std::string chassis(const std::string& name) const;
  /// The arguments of every call of the chassis_control script so far, one per call.
  std::vector<std::string> calls() const;

  /// Freezes the simulator (SIGSTOP): requests reach its socket and are never answered.
  void pause();
  /// Lets a paused simulator run again (SIGCONT).
  void resume();
  /// Stops the simulator (SIGTERM, then SIGKILL after 10 s) and waits for it; idempotent.
  void stop();

 private:
  bool start_once();
  bool answers_ping() const;

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
};

}  // namespace ab::testing
