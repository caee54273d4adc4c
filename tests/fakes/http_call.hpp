#pragma once

// One blocking HTTP/1.1 exchange, as a test sees it: harness::http_exchange under the tests'
// names.

#include <string>

#include "harness/http_exchange.hpp"

namespace ab::testing {

/// An HTTP answer as a test sees it.
using http_answer = harness::http_reply;

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
