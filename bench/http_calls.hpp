#pragma once

// Single HTTP calls to a server on loopback, one at a time: the benchmarks' set-up (hosts,
// submissions) and reads of a server's counters, beside the load generators of http_load.hpp.

#include <string>

namespace ab::bench {

/// The answer to one call.
struct call_answer {
  /// HTTP status; 0 when the call failed before an answer.
  long status = 0;
  std::string body;
};

/// `method path` on the server at 127.0.0.1:`port`, with `body` as JSON when it is not empty,
/// given up after `timeout_s` seconds.
call_answer call(int port, const std::string& method, const std::string& path,
                 const std::string& body = {}, long timeout_s = 60);

/// POSTs the JSON `body` to `path`; the HTTP status (0 when the call failed). An answer of 300
/// or more is written to stderr with its body, after `who` (the benchmark's name).
long post_json(int port, const std::string& path, const std::string& body, const char* who);

}  // namespace ab::bench
