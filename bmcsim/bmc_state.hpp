#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bmcsim/faults.hpp"
#include "core/clock.hpp"

namespace ab::bmc::sim {

/// The fixed resource ids every simulated BMC uses, as in the DMTF mockups.
inline constexpr const char* system_id = "437XR1138R2";
/// The Manager's id.
inline constexpr const char* manager_id = "BMC";
/// The Chassis' id.
inline constexpr const char* chassis_id = "1U";
/// The virtual CD's id under the Manager.
inline constexpr const char* media_id = "CD1";
/// Number of drives under Storage/1, named `Disk0`…
inline constexpr int drive_count = 2;

/// Identity derived from a BMC id: stable across runs, distinct between BMCs.
struct identity {
  /// Serial number of the System and Chassis.
  std::string serial;
  /// The System's UUID.
  std::string uuid;
  /// MAC address of Ethernet interface `nic` (0 or 1), locally administered.
  std::string mac(int nic) const;
  /// The 38 bits the MACs are made of.
  std::uint64_t mac_bits = 0;
};

/// The identity of BMC `id`.
identity identity_of(const std::string& id);

/// A boot of the System, recorded for a later simulated OS installer.
struct boot_event {
  /// When the boot completed (milliseconds since the epoch).
  time_ms at = 0;
  /// The boot source: the override target when one applied, else `Hdd`.
  std::string target;
  /// The virtual media image URL for a `Cd` boot with media inserted; else empty.
  std::string image;
};

/// One step of a simulated OS installation, as `GET /sim/bmc/<id>` lists it.
struct install_event {
  /// When it happened (milliseconds since the epoch).
  time_ms at = 0;
  /// `started`, `cancelled`, `lost` (never calls back), `called_back` or `failed` (the
  /// callback could not be delivered).
  std::string kind;
  /// The image being installed, without its query.
  std::string image;
  /// The callback's HTTP status (`called_back`, `failed`); 0 when no answer came.
  long http_status = 0;
  /// The callback's status (`succeeded`/`failed`), or why it was cancelled or not delivered.
  std::string detail;
};

/// One action a BMC was told to take and took, in the order it took them: what a test checks
/// the order of a chain's steps against (`GET /sim/bmc/<id>/actions`).
struct bmc_action {
  /// When it was taken (milliseconds since the epoch).
  time_ms at = 0;
  /// `power` (a reset), `boot` (an override), `media_insert`, `media_eject` or `erase`.
  std::string kind;
  /// The reset type (`ForceOff`), the override (`Cd/Once`), the image without its query, or
  /// the drive.
  std::string detail;
  /// The caller's `X-AB-Job` header (`JOB_ID/CLAIM`: which job attempt sent it), "" if none.
  std::string job;
};

/// A secure erase of one drive, reported as a Redfish task.
struct erase_task {
  /// The task id under TaskService/Tasks.
  int id = 0;
  /// The drive being erased.
  std::string drive;
  /// Start and completion time.
  time_ms start = 0;
  time_ms end = 0;
};

/// Everything one simulated BMC remembers. Plain data guarded by the fleet's lock.
struct bmc_state {
  /// The BMC's id in the fleet (the URL prefix `/bmc/<id>`).
  std::string id;
  identity ident;
  /// Stable power state: true when on.
  bool powered = false;
  /// `PoweringOn` or `PoweringOff` while a reset is under way; empty otherwise.
  std::string transition;
  /// When the transition completes.
  time_ms transition_end = 0;
  /// Boot override.
  std::string boot_target = "None";
  std::string boot_enabled = "Disabled";
  std::string boot_mode = "UEFI";
  /// Virtual CD.
  std::string media_image;
  bool media_inserted = false;
  /// Secure erases, oldest first.
  std::vector<erase_task> tasks;
  int next_task = 1;
  /// Session id → X-Auth-Token.
  std::map<std::string, std::string> sessions;
  int next_session = 1;
  /// Boots, oldest first.
  std::vector<boot_event> boots;
  /// Actions taken, oldest first.
  std::vector<bmc_action> actions;
  /// Installations, oldest first; `install_run` numbers them, `installing` while one runs.
  std::vector<install_event> installs;
  std::uint64_t install_run = 0;
  bool installing = false;
  /// Sessions created (logins) and deleted (logouts).
  std::uint64_t logins = 0;
  std::uint64_t logouts = 0;
  /// Requests served, by method, and faults injected.
  std::map<std::string, std::uint64_t> requests;
  std::uint64_t faults_injected = 0;
  /// Faults of this BMC; none means the fleet's.
  std::optional<fault_set> faults;
};

/// A new powered-off BMC named `id`.
bmc_state make_bmc(const std::string& id);

/// Completes a transition whose time has come (recording the boot it ends in); the lazy clock
/// tick every request starts with.
void settle(bmc_state& b, time_ms now);

/// The Redfish PowerState at `now` (after `settle`).
std::string power_state(const bmc_state& b);

/// The reset types accepted by `#ComputerSystem.Reset`.
const std::vector<std::string>& reset_types();

/// The allowed values of `Boot.BootSourceOverrideTarget`, `…Enabled` and `…Mode`.
const std::vector<std::string>& boot_targets();
const std::vector<std::string>& boot_enabled_values();
const std::vector<std::string>& boot_modes();

/// Starts reset `type` at `now`, completing after `delay` ms; false if the type is unknown.
bool reset(bmc_state& b, const std::string& type, time_ms now, time_ms delay);

/// Records action `kind` with `detail` taken at `now` for the caller `job`.
void record_action(bmc_state& b, time_ms now, std::string kind, std::string detail,
                   const std::string& job);

/// The actions of `b`, oldest first, as `GET /sim/bmc/<id>/actions` lists them.
nlohmann::json actions_json(const bmc_state& b);

/// The state a test asks for with `GET /sim/bmc/<id>`.
nlohmann::json to_json(const bmc_state& b, time_ms now);

}  // namespace ab::bmc::sim
