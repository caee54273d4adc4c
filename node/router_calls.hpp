#pragma once

// The HTTP calls of the heartbeat sender, made with libcurl: the node's own readiness probe and
// the heartbeat POSTs, all at once and each within its own deadline.

#include <chrono>
#include <string>
#include <vector>

namespace ab::node {

/// How the sender's calls are made.
struct call_options {
  /// Deadline of one call, connection included.
  std::chrono::milliseconds timeout{5000};
  /// PEM bundle of the CAs the peers' certificates are checked against; empty: the system's.
  std::string ca_file;
};

/// What became of one call: the HTTP status (0 when none came) and, on failure, why.
struct call_result {
  int status = 0;
  std::string error;
};

/// One heartbeat POST: the URL, the JSON body and its `X-AB-Signature` value.
struct heartbeat_post {
  std::string url;
  std::string body;
  std::string signature;
};

/// GETs `url` and reports its status; a redirect is not followed.
call_result probe(const std::string& url, const call_options& options);

/// POSTs every heartbeat at once (one slow or dead router does not delay the others; each
/// call ends by `options.timeout`) and reports each outcome, in the order of `posts`.
std::vector<call_result> post_all(const std::vector<heartbeat_post>& posts,
                                  const call_options& options);

}  // namespace ab::node
