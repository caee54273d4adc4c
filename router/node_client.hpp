#pragma once

// The router's HTTP client toward nodes: keep-alive connection pools per node and per I/O
// thread (Boost.Beast), bounded, with deadlines. A call made on an I/O thread of the router's
// HTTP server runs on that same thread, start to end, with no lock and no hand-off.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

namespace ab::router {

/// How the client connects and how long it waits.
struct client_options {
  /// I/O threads of the client, at least 1: they carry the calls made on threads that run no
  /// I/O context of an `http_server`.
  std::size_t threads = 2;
  /// Most connections open to one node at once (busy and idle), per I/O thread.
  std::size_t pool_size = 64;
  /// Most calls waiting for a connection of one node, per I/O thread; one more fails as `busy`
  /// at once.
  std::size_t queue_limit = 1024;
  /// Deadline of a connection's set-up (TCP and TLS).
  std::chrono::milliseconds connect_timeout{2000};
  /// Deadline of one exchange on a connection (writing the call, reading the answer).
  std::chrono::milliseconds request_timeout{30000};
  /// An idle kept-alive connection older than this is closed instead of reused (shorter than
  /// the nodes' own idle timeout, so that a node seldom closes one under a call).
  std::chrono::milliseconds idle_timeout{15000};
  /// PEM bundle that `https://` nodes' certificates are verified against; empty: the system's
  /// default trust store.
  std::string ca_file;
  /// Largest answer body accepted from a node.
  std::size_t body_limit = 64 << 20;
};

/// One call to a node.
struct outgoing_call {
  std::string method;
  /// Path and query.
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What came of a call.
struct call_result {
  enum class outcome {
    /// The node answered; `status`, `headers` and `body` hold its answer.
    answered,
    /// The node refused the connection (nothing listens): nothing was sent.
    refused,
    /// No connection could be made in time, or another connect failure: nothing was sent.
    unreachable,
    /// The call was sent (perhaps in part) but no whole answer came: the node may have acted.
    lost,
    /// Every connection of the node is busy and its queue is full: nothing was sent.
    busy,
    /// The URL is not `http://` or `https://HOST:PORT`.
    bad_url,
  };
  outcome what = outcome::answered;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Why it failed, for a log line or an error message.
  std::string detail;
};

/// An HTTP/1.1 client for many nodes, each with a pool of kept-alive connections per thread.
///
/// A call on a reused connection that the node had closed meanwhile (no answer byte came) is
/// sent again on a new connection, once. Thread-safe. A call made on an I/O thread of an
/// `net::http_server` runs there (its callback too); any other call runs on one of the
/// client's own threads.
class node_client {
 public:
  /// Starts the client's threads; an unusable `ca_file` is an error naming it.
  static caf::expected<std::unique_ptr<node_client>> start(client_options options);
  ~node_client();
  node_client(const node_client&) = delete;
  node_client& operator=(const node_client&) = delete;

  /// Sends `call` to the node at `base_url` (`http://HOST:PORT` or `https://…`) and hands the
  /// result to `done`, exactly once.
  void send(const std::string& base_url, outgoing_call call, std::function<void(call_result)> done);

  /// As above, with a call the caller keeps (to send it again to another node): its body is
  /// written from where it is, not copied. A `protocol` of 2 or more is sent as the call's
  /// `X-AB-Protocol` header (the version chosen for this node; protocol 1 sends none).
  void send(const std::string& base_url, std::shared_ptr<const outgoing_call> call,
            std::function<void(call_result)> done, int protocol = 0);

  /// Closes every connection and joins the threads; pending calls are dropped with their
  /// callbacks. Call it before the server whose I/O threads made calls stops: the connections
  /// made on a server's thread are closed on it (a server stopped first leaves them to the
  /// process's exit). Idempotent, also done by the destructor.
  void stop();

 private:
  struct impl;
  explicit node_client(std::shared_ptr<impl> state);
  std::shared_ptr<impl> impl_;
};

}  // namespace ab::router
