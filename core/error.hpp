#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>

namespace ab {

/// Error codes shared by every AutoBuild component; travel as `caf::error` of category `ab`.
enum class errc : std::uint8_t {
  /// Not an error.
  none = 0,
  /// The caller's input is malformed or violates a rule.
  invalid_argument,
  /// The named object does not exist.
  not_found,
  /// The object exists but is in a state that forbids the operation.
  conflict,
  /// The host already has an active request.
  host_busy,
  /// A lease token no longer matches: another worker or the recovery owns the job now.
  lease_lost,
  /// The store cannot be reached or keeps failing transiently; retry later.
  store_unavailable,
  /// The store answered with an error that retrying will not fix.
  store_failure,
  /// The database schema is newer than this binary knows.
  schema_too_new,
  /// A configuration value is missing or invalid.
  bad_config,
  /// An actor (a worker) died of an unexpected exception.
  crashed,
  /// The caller did not prove who it is: no credentials, or wrong ones.
  unauthenticated,
  /// The caller is known but the policy does not allow the operation.
  forbidden,
  /// A service other than the store (a directory, a BMC) cannot be reached; retry later.
  unavailable,
  /// A BMC endpoint is already another host's (two hosts never name one BMC).
  endpoint_taken,
  /// The host's lifecycle state does not allow the action.
  invalid_state,
  /// The host's BMC cannot do what the action needs (its driver, or what discovery found).
  unsupported_by_bmc,
  /// The host is on hold (maintenance): no request for it is accepted until the hold is lifted.
  host_held,
};

/// Human-readable name of an error code.
std::string to_string(errc x);

/// Builds a `caf::error` of category `ab` with a human sentence as context.
caf::error make_error(errc code, std::string what);

/// The human sentence stored in an error made by `make_error`, or CAF's rendering otherwise.
std::string message_of(const caf::error& err);

/// True if `err` is an `ab` error with code `code`.
bool is(const caf::error& err, errc code);

}  // namespace ab

CAF_ERROR_CODE_ENUM(ab::errc, "ab")
