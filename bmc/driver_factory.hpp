#pragma once

// The one owner of BMC endpoint schemes: which driver serves an endpoint (`https://` and
// `http://` → Redfish, `ipmi://` → IPMI), what address that driver takes, and so what the
// endpoint's BMC can ever do. Also chooses a driver by name (the `ab-bmc` CLI).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "bmc/capability.hpp"
#include "bmc/driver.hpp"
#include "bmc/redfish_driver.hpp"

namespace ab::bmc {

/// The driver called `name` (`redfish` or `ipmi`); an unknown driver
/// is `errc::invalid_argument` naming it.
caf::expected<std::unique_ptr<driver>> make_driver(const std::string& name);

/// Where an endpoint leads: the driver that serves its scheme and the address it takes.
struct endpoint_route {
  /// `redfish` or `ipmi`.
  std::string driver;
  /// The driver's `target.endpoint`: a Redfish URL as it is, `HOST[:PORT]` of `ipmi://`.
  std::string address;
};

/// The route of `endpoint` by its scheme; another scheme is `errc::invalid_argument` naming
/// the known ones.
caf::expected<endpoint_route> route_of(const std::string& endpoint);

/// The drivers of a node by endpoint: one instance per driver, shared by every caller.
class driver_resolver {
 public:
  /// Turns a built-in driver into the one callers get (e.g. wraps it in a guard).
  using wrapper = std::function<std::shared_ptr<driver>(std::shared_ptr<driver>)>;

  /// Every built-in driver, each through `wrap` when it is set; the Redfish driver with
  /// `redfish` (its sessions' limits).
  static std::shared_ptr<const driver_resolver> standard(const wrapper& wrap = {},
                                                         const redfish_options& redfish = {});

  /// Resolves to `drivers`, by driver name (`redfish`, `ipmi`); tests pass fakes.
  explicit driver_resolver(std::map<std::string, std::shared_ptr<driver>> drivers);

  /// A driver and the address it takes for one endpoint.
  struct resolved {
    std::shared_ptr<bmc::driver> driver;
    std::string address;
  };

  /// The driver of `endpoint`; `errc::invalid_argument` for a scheme no driver serves.
  caf::expected<resolved> resolve(const std::string& endpoint) const;

  /// What the driver of `endpoint` can ever do (its interfaces); errors as `resolve`.
  caf::expected<capability_set> capabilities_of(const std::string& endpoint) const;

 private:
  std::map<std::string, std::shared_ptr<driver>> drivers_;
};

}  // namespace ab::bmc
