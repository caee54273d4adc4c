#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "net/http/server.hpp"

namespace ab::net {

/// Refusals of the API's resources that `ab::errc` has no word for; travel as `caf::error` of
/// category `api`, with a human sentence as context, and become HTTP answers in `to_api_error`.
enum class api_errc : std::uint8_t {
  /// Not an error.
  none = 0,
  /// A submission names a host that is not in the inventory (or that the caller may not see).
  unknown_host,
  /// The host's lifecycle state forbids the action.
  invalid_state,
  /// A host name is another host's, one the caller may not see.
  name_taken,
  /// The Idempotency-Key was used before with another body.
  idempotency_conflict,
  /// No cluster processes the action.
  action_not_served,
  /// A host breaks the node's BMC rules (credential store, endpoint policy).
  invalid_host,
  /// A cluster map that `config::parse_cluster_map` refuses.
  invalid_cluster_map,
  /// A cluster the cluster map does not define.
  unknown_cluster,
  /// A destructive bulk call without the right `confirm_hosts`.
  confirmation_required,
  /// A destructive call past its caller's quota (hosts per call or per hour).
  quota_exceeded,
  /// A wave plan that cannot be made (docs/safety.md).
  invalid_wave,
};

/// Builds a `caf::error` of category `api` with a human sentence as context.
caf::error make_error(api_errc code, std::string what);

/// An API failure as the caller sees it: HTTP status, a stable machine code, a human sentence.
struct api_error {
  int status = 500;
  std::string code;
  std::string message;
  /// Seconds for `Retry-After` (429, 503), 0 for none.
  int retry_after = 0;
};

/// The one place that maps internal errors (categories `ab` and `api`) to HTTP statuses and
/// codes.
api_error to_api_error(const caf::error& err);

/// A JSON response `{"error": {"code": …, "message": …}}` with the status (and Retry-After).
http_response error_response(const api_error& e);

/// A JSON response with `status` and `body`.
http_response json_response(int status, std::string body);

}  // namespace ab::net

CAF_ERROR_CODE_ENUM(ab::net::api_errc, "api")
