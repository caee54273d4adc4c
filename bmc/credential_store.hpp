#pragma once

// BMC credentials: a store of its own. A host names its credential by reference; the node
// resolves the reference only inside its credentials directory or among the environment
// variables of its prefix, and reads it at each use. Secrets are never logged, never stored
// in the database (only the reference is) and never quoted in an error.

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ab::bmc {

/// A BMC login.
struct credentials {
  std::string user;
  std::string password;
};

/// Where a node keeps BMC credentials.
struct credential_store_options {
  /// The directory `file:NAME` references resolve in (one file per credential).
  std::string directory = "var/credentials";
  /// The prefix every `env:NAME` reference's variable must start with.
  std::string env_prefix = "AB_BMC_";
};

/// Resolves credential references:
/// - `file:NAME` — the file NAME of the credentials directory (NAME has no `/`, no `..`, no
///   control characters; opened relative to the directory, links not followed; a regular
///   file that group and others can neither read nor write), whose first line is
///   `USER:PASSWORD` (the password may contain `:`);
/// - `env:NAME` — the variable NAME, which must start with the prefix, holds `USER:PASSWORD`.
/// Every other scheme is refused. Errors (`errc::invalid_argument`) speak only of the store:
/// never of paths or variables outside it, never of the secret or its user-name half.
/// Thread-safe: it holds no state but its options.
class credential_store {
 public:
  explicit credential_store(credential_store_options options);

  /// Checks a reference at registration: its syntax, and that it resolves now.
  caf::error validate(const std::string& reference) const;

  /// Reads the credential now (every call reads again: a rotated file or variable takes
  /// effect on the next use).
  caf::expected<credentials> resolve(const std::string& reference) const;

  /// Checks the directory at start-up: it must be a directory that group and others cannot
  /// write (`errc::bad_config` naming it otherwise). Creates it (0700) when missing.
  caf::error prepare() const;

  const credential_store_options& options() const { return options_; }

 private:
  caf::expected<credentials> from_file(const std::string& name) const;
  caf::expected<credentials> from_env(const std::string& name) const;

  credential_store_options options_;
};

}  // namespace ab::bmc
