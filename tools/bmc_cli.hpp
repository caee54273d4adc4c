#pragma once

// The `ab-bmc` command line: parsing and running one command against one BMC.

#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "bmc/driver.hpp"

namespace ab::tools {

/// A parsed `ab-bmc` invocation.
struct bmc_command_line {
  std::string driver = "redfish";
  /// The BMC to act on; `target.password` is filled from `password_file` by `load_password`.
  bmc::target target;
  std::string password_file;
  /// The command and its arguments, e.g. `{"power", "status"}` or `{"boot", "pxe"}`.
  std::vector<std::string> command;
  /// `boot --once`.
  bool once = false;
  bool help = false;
};

/// The usage text.
std::string bmc_usage();

/// Parses the arguments (without the program name); an unknown option, a missing value or
/// an unknown command is `errc::invalid_argument` naming it.
caf::expected<bmc_command_line> parse_bmc_command_line(const std::vector<std::string>& args);

/// Reads the password: the first line of `cl.password_file` (none when no file is named); a
/// file that group or others may access is refused.
caf::error load_password(bmc_command_line& cl);

/// Runs the command; what it prints on success goes to `out` (e.g. `On`, inventory JSON).
caf::error run_bmc_command(bmc::driver& d, const bmc_command_line& cl, std::string& out);

}  // namespace ab::tools
