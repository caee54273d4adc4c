#pragma once

#include <functional>
#include <string>

#include "bmcsim/bmc_state.hpp"
#include "net/http/server.hpp"

namespace ab::bmc::sim {

/// What the Redfish service of a BMC needs besides its state to answer one request.
struct service_context {
  /// The accepted user name and password.
  std::string user;
  std::string password;
  /// The current time.
  time_ms now = 0;
  /// The delay of a reset starting now, in ms, already time-scaled.
  std::function<time_ms()> reset_delay;
  /// The duration of a secure erase, in ms, already time-scaled.
  time_ms erase_ms = 0;
  /// Whether every credential is refused (the `auth_fail` fault).
  bool auth_fail = false;
  /// The caller's `X-AB-Job` header, recorded with each action taken.
  std::string job{};
};

/// Answers one Redfish request to BMC `b`; `base` is its service root without the trailing
/// slash (`/bmc/<id>/redfish/v1`) and `rest` the path after it (empty or `/…`).
net::http_response serve_redfish(bmc_state& b, const std::string& base, const std::string& rest,
                                 const net::http_request& req, const service_context& ctx);

/// A JSON response.
net::http_response json_response(int status, const std::string& body);

/// A Redfish error response with `message_id` (e.g. `ResourceNotFound`) and its arguments.
net::http_response error_response(int status, const std::string& message_id,
                                  const std::string& message,
                                  const std::vector<std::string>& args = {});

}  // namespace ab::bmc::sim
