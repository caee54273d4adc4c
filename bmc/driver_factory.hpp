#pragma once

// Choosing a BMC driver by name (configuration, the `ab-bmc` CLI).

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "bmc/driver.hpp"

namespace ab::bmc {

/// The driver called `name` (`redfish` or `ipmi`); an unknown driver
/// is `errc::invalid_argument` naming it.
caf::expected<std::unique_ptr<driver>> make_driver(const std::string& name);

}  // namespace ab::bmc
