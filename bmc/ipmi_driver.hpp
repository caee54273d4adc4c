#pragma once

// The IPMI driver: drives a BMC through `ipmitool -I lanplus`, one child process per call.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bmc/driver.hpp"

namespace spdlog {
class logger;
}

namespace ab::bmc {

/// How often and how soon the IPMI driver tries again after a transient failure (the BMC did
/// not answer, or had no free session). All attempts of one call share the target's timeout.
struct ipmi_retry {
  /// Attempts in all, the first included.
  int attempts = 3;
  /// The pause before the second attempt; it doubles before each further one.
  std::chrono::milliseconds backoff{200};
};

/// Drives BMCs over IPMI 2.0 (RMCP+, cipher suite 3) by running `ipmitool`: power, the next
/// boot device, and what the FRU tells of the machine: the power, boot and inventory interfaces.
/// IPMI has no virtual media and cannot erase disks: the driver offers no such interfaces. The
/// password reaches ipmitool in its environment
/// (`IPMI_PASSWORD`, `-E`), never on its command line. Thread-safe: calls share no state.
class ipmi_driver : public driver,
                    public power_control,
                    public boot_control,
                    public inventory_reader {
 public:
  /// The clock of call deadlines.
  using clock = std::chrono::steady_clock;

  /// Uses the ipmitool at `ipmitool_path` (`/usr/bin/ipmitool` by default).
  explicit ipmi_driver(std::string ipmitool_path = "/usr/bin/ipmitool", ipmi_retry retry = {});

  /// `ipmi`.
  std::string name() const override { return "ipmi"; }

  /// Power, boot and inventory; no media, no erase.
  power_control* power_interface() override { return this; }
  boot_control* boot_interface() override { return this; }
  inventory_reader* inventory_interface() override { return this; }

  /// `chassis power status`: on or off.
  caf::expected<power_state> power(const target& t) override;
  /// `chassis power on|off|soft|reset|cycle`.
  caf::error set_power(const target& t, power_action a) override;
  /// `chassis bootdev pxe|disk|cdrom`, with `options=persistent` unless `once`; UEFI HTTP boot
  /// has no IPMI device (`errc::invalid_argument`).
  caf::error set_boot(const target& t, boot_device d, bool once) override;
  /// `fru print`: manufacturer, model and serial number; `errc::invalid_argument` if the BMC
  /// has no FRU data that names any of them.
  caf::expected<inventory> read_inventory(const target& t) override;

  /// The ipmitool arguments (after the program name) that run `command` against `t`;
  /// they never contain the password.
  static std::vector<std::string> arguments(const target& t,
                                            const std::vector<std::string>& command);

 private:
  /// Runs one ipmitool command with retries; its standard output, or the error.
  caf::expected<std::string> run(const target& t, const std::vector<std::string>& command);
  /// Runs ipmitool (`argv`, `env`) once, until `deadline` at the latest.
  caf::expected<std::string> run_once(const target& t, const std::vector<std::string>& argv,
                                      const std::vector<std::string>& env,
                                      clock::time_point deadline);

  std::string ipmitool_;
  ipmi_retry retry_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace ab::bmc
