#pragma once

// BMC credentials from a host's credential reference; never logged, never stored in the
// database (only the reference is).

#include <string>

#include <caf/expected.hpp>

namespace ab::bmc {

/// A BMC login.
struct credentials {
  std::string user;
  std::string password;
};

/// Resolves a credential reference:
/// - `file:PATH` — the file's first line is `USER:PASSWORD` (the password may contain `:`);
///   a file readable by group or others is refused;
/// - `env:NAME` — the environment variable NAME holds `USER:PASSWORD`.
/// Errors (`errc::bad_config`) name the reference, never its content.
caf::expected<credentials> resolve_credentials(const std::string& reference);

}  // namespace ab::bmc
