#pragma once

// One blocking HTTP/1.1 exchange with a loopback server, as a harness user (ab-e2e, a
// benchmark's set-up) makes it: no client library, a fresh connection, a 30 s deadline.

#include <string>

namespace ab::harness {

/// An HTTP answer.
struct http_reply {
  /// 0 when no answer came.
  int status = 0;
  std::string headers;
  std::string body;
};

/// One HTTP/1.1 call to 127.0.0.1:`port` on a fresh connection; status 0 when it failed.
/// `extra_headers` are whole lines, each ending in CRLF.
http_reply http_exchange(int port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& extra_headers = "");

/// As `http_exchange`, from the loopback address `source` (e.g. "127.0.0.2"; empty: any).
http_reply http_exchange_from(const std::string& source, int port, const std::string& method,
                              const std::string& path, const std::string& body = "",
                              const std::string& extra_headers = "");

}  // namespace ab::harness
