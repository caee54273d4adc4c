#pragma once

// The HTTP client of `abctl`: one call to the AutoBuild API, failing over across the router
// URLs it was given (libcurl, one kept-alive connection per URL).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "tools/abctl/options.hpp"

namespace ab::abctl {

/// One API call.
struct api_call {
  std::string method = "GET";
  /// Path and query, e.g. `/v1/requests?state=running`.
  std::string path;
  /// A JSON body; sent only when not empty.
  std::string body;
  /// Sent as `Idempotency-Key` when not empty.
  std::string idempotency_key;
  /// True when sending the call twice does no harm (a GET, a submission with an idempotency
  /// key, a cancel, a registration): only such a call goes to the next URL after it may have
  /// reached a server (a timeout after sending, a 502 or 503). A call never sent (connection
  /// refused, no such name) always goes to the next URL.
  bool repeatable = true;
};

/// A `GET` of `path`.
inline api_call get(std::string path) {
  api_call c;
  c.path = std::move(path);
  return c;
}

/// A server's answer.
struct api_answer {
  long status = 0;
  /// Header fields by lower-cased name.
  std::map<std::string, std::string> headers;
  std::string body;
  /// The base URL that answered.
  std::string router;
};

/// How a call that no URL answered ended.
struct call_failure {
  /// What happened at each URL, in order.
  std::string message;
  /// True when the call may have reached a server that did not answer in time: it may or may
  /// not have been carried out.
  bool maybe_done = false;
};

/// A call's result: an answer, or the failure.
struct call_result {
  std::optional<api_answer> answer;
  call_failure failure;
  explicit operator bool() const { return answer.has_value(); }
};

/// Where notes go (a failover, a retry): one line each, without a newline.
using note_sink = std::function<void(const std::string&)>;

/// Sends calls to the first router URL that answers, in order, starting with the one that
/// answered last. A refused or timed-out connection, `502`, `503`, `504` or `429` moves to the
/// next URL (a repeatable call only, once it may have been sent); after a whole round without
/// an answer it waits (`Retry-After`, at most 5 s, or a growing backoff) and tries
/// `settings.retries` more rounds. Not thread-safe.
class api_client {
 public:
  api_client(const settings& s, note_sink notes);
  ~api_client();
  api_client(const api_client&) = delete;
  api_client& operator=(const api_client&) = delete;

  /// Performs `c`.
  call_result call(const api_call& c);

  /// Largest answer body accepted; a longer one is a failure of that URL.
  static constexpr std::size_t max_body = std::size_t{64} << 20;

 private:
  struct connection;
  enum class outcome { answered, never_sent, maybe_sent };
  outcome perform(connection& conn, const api_call& c, api_answer& out, std::string& why);

  settings settings_;
  note_sink notes_;
  std::vector<std::unique_ptr<connection>> connections_;
  std::size_t current_ = 0;
};

/// `s` percent-encoded for a path segment or a query value (unreserved characters kept).
std::string url_escape(const std::string& s);

}  // namespace ab::abctl
