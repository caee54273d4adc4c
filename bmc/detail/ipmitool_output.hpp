#pragma once

// Reading what ipmitool prints: plain functions, tested without a BMC.

#include <string>

#include <caf/expected.hpp>

#include "bmc/driver.hpp"

namespace ab::bmc::detail {

/// What kind of failure ipmitool reported.
enum class ipmitool_failure {
  /// The BMC refused the user or the password (RAKP errors).
  auth,
  /// The BMC did not answer or was busy; trying again soon may work.
  transient,
  /// Anything else: the BMC answered with an error that a retry will not fix.
  other,
};

/// Classifies ipmitool's standard error after a failed run.
ipmitool_failure classify_failure(const std::string& err);

/// The one line of ipmitool's standard error that best says why it failed (the most specific
/// known reason, else the last line that is not chatter); "no output" if there is none.
std::string failure_reason(const std::string& err);

/// The power state in the output of `chassis power status` ("Chassis Power is on").
caf::expected<power_state> parse_power_status(const std::string& out);

/// Manufacturer, model and serial number from the output of `fru print` (product fields
/// first, then board, then chassis); fields it does not find stay empty.
inventory parse_fru(const std::string& out);

}  // namespace ab::bmc::detail
