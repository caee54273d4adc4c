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

/// A libcurl handle kept between exchanges, so that they reuse its open connection (and TLS
/// session) to a BMC instead of connecting anew. Not thread-safe: one exchange at a time.
class http_connection {
 public:
  http_connection();
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Performs `c` on this handle: transport failures after sending (timeout, TLS, reset) are
  /// `errc::unavailable` naming the URL, never the credentials; a connection that could not
  /// be made is an answer with status 0 (always safe to retry); an address the policy refuses
  /// is `errc::invalid_argument` saying why. A new connection's address is checked against
  /// the policy before a byte is sent; a kept one was checked when it was opened.
  caf::expected<http_answer> perform(const http_call& c);

 private:
  void* handle_;
};

/// Performs `c` with a fresh easy handle (one connection for one exchange), as
/// `http_connection::perform`.
caf::expected<http_answer> perform(const http_call& c);

}  // namespace ab::bmc::detail
