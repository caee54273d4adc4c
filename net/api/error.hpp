#pragma once

#include <string>

#include <caf/error.hpp>

#include "net/http/server.hpp"

namespace ab::net {

/// An API failure as the caller sees it: HTTP status, a stable machine code, a human sentence.
struct api_error {
  int status = 500;
  std::string code;
  std::string message;
  /// Seconds for `Retry-After` (429, 503), 0 for none.
  int retry_after = 0;
};

/// The one place that maps internal errors to HTTP statuses and codes.
api_error to_api_error(const caf::error& err);

/// A JSON response `{"error": {"code": …, "message": …}}` with the status (and Retry-After).
http_response error_response(const api_error& e);

/// A JSON response with `status` and `body`.
http_response json_response(int status, std::string body);

}  // namespace ab::net
