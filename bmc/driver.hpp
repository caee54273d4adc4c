#pragma once

// The BMC driver and its capabilities as separate, optional interfaces (as Ironic's hardware
// types compose power, boot, management, inspect and erase interfaces): a driver (Redfish,
// IPMI) offers the interfaces its protocol has and none of the others, so what a BMC can
// never do is known before a request starts. Calls block the calling thread (a worker's own
// thread) for at most the target's timeout and retries; they never log credentials.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "bmc/capability.hpp"
#include "core/clock.hpp"

namespace ab::bmc {

class endpoint_policy;

/// How to reach one BMC. Credentials are resolved from the host's credential reference by the
/// caller (see `credential_store.hpp`), never stored here longer than a call.
struct target {
  /// `https://HOST[:PORT][/PREFIX]` for Redfish (the service root is PREFIX/redfish/v1),
  /// `HOST[:PORT]` for IPMI.
  std::string endpoint;
  std::string user;
  std::string password;
  /// TLS: verification is on unless `insecure`; `ca_file` names a PEM bundle to trust.
  bool insecure = false;
  std::string ca_file;
  /// Deadline of one protocol exchange.
  std::chrono::milliseconds timeout{10000};
  /// When set, every connection's address is checked against it after name resolution and
  /// before a byte is sent (`endpoint_policy.hpp`); null checks nothing (tools, tests).
  std::shared_ptr<const endpoint_policy> policy;
};

enum class power_state { on, off, powering_on, powering_off, unknown };

enum class power_action { on, off, graceful_off, force_restart, power_cycle };

enum class boot_device { pxe, disk, cd, uefi_http };

/// What a discovery records about a machine.
struct inventory {
  std::string manufacturer, model, serial, uuid, bios_version, bmc_firmware;
  int cpu_count = 0;
  std::vector<std::string> cpu_models;
  std::int64_t memory_mib = 0;
  struct nic {
    std::string id, mac;
  };
  std::vector<nic> nics;
  struct drive {
    std::string id, model, serial, media_type;
    std::int64_t capacity_bytes = 0;
  };
  std::vector<drive> drives;
  /// What the discovery found this BMC cannot do although its driver could (no virtual CD, a
  /// drive without secure erase): a request that needs it is refused at submission.
  capability_set lacks;
};

/// The result of erasing one drive: the evidence a wipe keeps on its request.
struct erase_result {
  std::string drive;
  /// E.g. `SecureErase`, `Overwrite`, `CryptographicErase`.
  std::string method;
  bool ok = false;
  std::string detail;
  /// The erase failed for a reason that may pass (the BMC answered 5xx or 429, or could not
  /// be reached): the whole erase is worth running again.
  bool transient = false;
};

/// JSON of an inventory (the facts a discovery records) and of an erase result (the evidence
/// a wipe keeps), for nlohmann::json's conversions: `nlohmann::json j = inv;`.
void to_json(nlohmann::json& j, const inventory& inv);
void to_json(nlohmann::json& j, const erase_result& r);

/// What the facts of a host (the JSON of its last discovery's `inventory`) say its BMC
/// lacks; none when the facts do not say (no discovery yet, or facts of an older node).
capability_set lacks_in_facts(const std::string& facts);

std::string to_string(power_state s);
std::string to_string(power_action a);
std::string to_string(boot_device d);

/// Power state and power actions (capability `power`).
class power_control {
 public:
  virtual ~power_control() = default;
  virtual caf::expected<power_state> power(const target& t) = 0;
  /// Asks for a power change; returns once the BMC accepted it (not when it completed).
  virtual caf::error set_power(const target& t, power_action a) = 0;
};

/// The next boot device (capability `boot`).
class boot_control {
 public:
  virtual ~boot_control() = default;
  /// Sets the next boot device; `once` = for the next boot only.
  virtual caf::error set_boot(const target& t, boot_device d, bool once) = 0;
};

/// A virtual CD (capability `media`).
class media_control {
 public:
  virtual ~media_control() = default;
  /// Inserts `image_url` as virtual CD (ejecting what was there), or ejects with "".
  virtual caf::error set_media(const target& t, const std::string& image_url) = 0;
};

/// What the machine is made of (capability `inventory`).
class inventory_reader {
 public:
  virtual ~inventory_reader() = default;
  virtual caf::expected<inventory> read_inventory(const target& t) = 0;
};

/// Disk erase (capability `erase`).
class disk_eraser {
 public:
  virtual ~disk_eraser() = default;
  /// Erases every drive, with the strongest method the BMC offers; waits for its task.
  virtual caf::expected<std::vector<erase_result>> erase_disks(const target& t) = 0;
};

/// One protocol's way of driving BMCs: a bundle of optional capability interfaces, each null
/// when the protocol has no such thing. Thread-safe (many workers share one driver).
class driver {
 public:
  virtual ~driver() = default;

  /// `redfish` or `ipmi`.
  virtual std::string name() const = 0;

  /// When this driver will call the BMC of `t` again: 0 (or a past time) for now; later while
  /// a circuit breaker keeps the BMC closed (`guarded_driver`). A job waits until then
  /// without spending an attempt.
  virtual time_ms available_at(const target& t) {
    (void)t;
    return 0;
  }

  /// The driver's interface of each capability, or null when it has none. The interfaces
  /// live as long as the driver.
  virtual power_control* power_interface() { return nullptr; }
  virtual boot_control* boot_interface() { return nullptr; }
  virtual media_control* media_interface() { return nullptr; }
  virtual inventory_reader* inventory_interface() { return nullptr; }
  virtual disk_eraser* erase_interface() { return nullptr; }

  /// What this driver can ever do: the capabilities whose interface is not null.
  capability_set capabilities();
};

}  // namespace ab::bmc
