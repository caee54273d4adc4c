#pragma once

// One blocking HTTP/1.1 exchange, as a test sees it: no client library, a fresh connection.

#include <string>

namespace ab::testing {

/// An HTTP answer as a test sees it.
struct http_answer {
  int status = 0;
  std::string headers;
  std::string body;
};

/// One HTTP/1.1 call to 127.0.0.1:`port` on a fresh connection; status 0 when it failed.
http_answer http_call(int port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& extra_headers = "");

/// As `http_call`, from the loopback address `source` (e.g. "127.0.0.9"): a client other than
/// the test's own 127.0.0.1, as forwarding headers see it.
http_answer http_call_from(const std::string& source, int port, const std::string& method,
                           const std::string& path, const std::string& body = "",
                           const std::string& extra_headers = "");

/// `GET path` on 127.0.0.1:`port`; returns "STATUS BODY" or an empty string on failure.
std::string http_get(int port, const std::string& path);

}  // namespace ab::testing
