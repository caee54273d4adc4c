#pragma once

// The Redfish driver: every capability interface of `driver` over HTTPS with libcurl.

#include <chrono>
#include <cstddef>
#include <memory>

#include "bmc/driver.hpp"

namespace ab::bmc {

namespace detail {
class redfish_sessions;
struct client_policy;
}  // namespace detail

/// Tuning of a `redfish_driver`; the defaults suit real BMCs.
struct redfish_options {
  /// Retries of one request after a transient failure (refused connection, 5xx, 503), within
  /// the target's timeout.
  int retries = 2;
  /// First backoff between retries; doubles each time (`Retry-After` wins when sent).
  std::chrono::milliseconds backoff{200};
  /// Interval between GETs of a task monitor.
  std::chrono::milliseconds task_poll{2000};
  /// Longest wait for one task (e.g. a drive's secure erase).
  std::chrono::milliseconds task_timeout{std::chrono::hours(2)};
  /// Sessions kept at most (one per BMC); one more logs out the least recently used.
  std::size_t max_sessions = 1024;
  /// A kept session unused this long is logged out.
  std::chrono::milliseconds session_idle{60000};
  /// Times the waits, polling deadlines and idle sessions (its monotonic reading).
  std::shared_ptr<const ab::clock> clock = std::make_shared<system_clock>();
};

/// Drives BMCs through Redfish: navigates by links from the service root, logs in with a
/// session (falling back to HTTP Basic) and keeps it, with its connection and the resources
/// found, for the next calls to the same BMC; logs out when idle and when destroyed.
///
/// Thread-safe: a call owns its BMC's session while it runs.
class redfish_driver : public driver,
                       public power_control,
                       public boot_control,
                       public media_control,
                       public inventory_reader,
                       public disk_eraser {
 public:
  /// A driver with default tuning.
  redfish_driver() = default;

  /// A driver with the given tuning (tests shorten the intervals).
  explicit redfish_driver(redfish_options options) : options_(options) {}

  /// `redfish`.
  std::string name() const override { return "redfish"; }

  /// Every interface: power, boot, media, inventory, erase.
  power_control* power_interface() override { return this; }
  boot_control* boot_interface() override { return this; }
  media_control* media_interface() override { return this; }
  inventory_reader* inventory_interface() override { return this; }
  disk_eraser* erase_interface() override { return this; }

  /// The System's `PowerState`.
  caf::expected<power_state> power(const target& t) override;

  /// POSTs `ComputerSystem.Reset`, within the `ResetType`s the BMC allows (a power cycle
  /// falls back to ForceRestart, or ForceOff then On).
  caf::error set_power(const target& t, power_action a) override;

  /// PATCHes the System's `Boot` override (UEFI mode for HTTP boot), with the ETag of the
  /// System's last read in this session when there was one (no GET); it reads the System
  /// first when none is known, or again when the BMC answers that ETag stale (412/428).
  caf::error set_boot(const target& t, boot_device d, bool once) override;

  /// Uses the first CD/DVD VirtualMedia of the System or the Manager, by action or PATCH.
  caf::error set_media(const target& t, const std::string& image_url) override;

  /// Reads the System, its Processors, EthernetInterfaces and drives, and the Manager; what
  /// it lacks: `media` without a virtual CD/DVD, `erase` when a drive offers no SecureErase.
  caf::expected<inventory> read_inventory(const target& t) override;

  /// Runs each drive's `Drive.SecureErase` and waits for its task.
  caf::expected<std::vector<erase_result>> erase_disks(const target& t) override;

 private:
  static std::shared_ptr<detail::redfish_sessions> make_sessions(const redfish_options& o);
  detail::client_policy policy() const;

  redfish_options options_;
  std::shared_ptr<detail::redfish_sessions> sessions_ = make_sessions(options_);
};

}  // namespace ab::bmc
