#pragma once

// One HTTP exchange over libcurl, for the Redfish driver. Internal to `ab_bmc`.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "bmc/endpoint_policy.hpp"

namespace ab::bmc::detail {

/// One request: what to send and how to trust the peer.
struct http_call {
  /// `GET`, `POST`, `PATCH` or `DELETE`.
  std::string method = "GET";
  /// Absolute URL.
  std::string url;
  /// JSON body; sent only when not empty.
  std::string body;
  /// Sent as `If-Match` when not empty (the ETag a PATCH is based on).
  std::string if_match;
  /// Sent as `X-Auth-Token` when not empty.
  std::string token;
  /// HTTP Basic credentials, used when `token` is empty and `user` is not.
  std::string user, password;
  bool insecure = false;
  std::string ca_file;
  /// Deadline of the whole exchange (the connect phase included).
  std::chrono::milliseconds timeout{10000};
  /// When set, every address libcurl is about to connect to is checked first (for the
  /// endpoint host `host`), and no proxy is used: a refused address sends no byte.
  std::shared_ptr<const endpoint_policy> policy;
  std::string host;
};

/// An answer: status, lower-cased header fields and body.
struct http_answer {
  /// 0 when the request was never sent (connection refused, name not resolved).
  long status = 0;
  /// Why the request was never sent.
  std::string failure;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// Performs `c` with a fresh easy handle; transport failures after sending (timeout, TLS,
/// reset) are `errc::unavailable` naming the URL, never the credentials; a connection that
/// could not be made is an answer with status 0 (always safe to retry); an address the
/// policy refuses is `errc::invalid_argument` saying why.
caf::expected<http_answer> perform(const http_call& c);

}  // namespace ab::bmc::detail
