#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

namespace boost::asio {
class io_context;
}

namespace ab::net {

/// One parsed request, with header names lower-cased.
struct http_request {
  /// The method as sent, e.g. `GET` or `POST`.
  std::string method;
  /// Path and query as sent, e.g. `/v1/requests?state=running`.
  std::string target;
  /// The whole body; at most `server_options::body_limit` bytes.
  std::string body;
  /// Header fields by lower-cased name; a repeated field's values are joined with ", ".
  std::map<std::string, std::string> headers;
  /// The peer as `ip:port` (`[ip]:port` for IPv6).
  std::string remote;
};

/// The reply a handler produces.
struct http_response {
  /// Status code, 200 to 999; anything else is answered as 500.
  int status = 200;
  /// Value of `Content-Type`; empty leaves the header out.
  std::string content_type = "application/json";
  /// The body; dropped for 204 and 304, and for answers to `HEAD`.
  std::string body;
  /// Extra header fields, e.g. `Retry-After`; framing fields (`Content-Length`,
  /// `Transfer-Encoding`, `Connection`) and fields with invalid characters are ignored.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Closes the connection without answering, everything else ignored; for test peers that
  /// simulate a failing server.
  bool drop = false;
};

/// Delivers the response; call exactly once, from any thread.
///
/// Later calls are ignored; destroying every copy without calling it answers 500. It is safe
/// to call after the client left or the server stopped: the response is then dropped.
using responder = std::function<void(http_response)>;

/// Handles one request asynchronously: it must not block; it may call the responder later from
/// another thread.
///
/// It runs on an I/O thread. An exception it throws is logged and answered with 500.
using handler = std::function<void(http_request&&, responder)>;

/// The certificate and key an `http_server` serves HTTPS with.
struct tls_settings {
  /// PEM file with the server's certificate, then any intermediate certificates; empty serves
  /// plain HTTP.
  std::string cert_file;
  /// PEM file with the certificate's private key, unencrypted, accessible to its owner only.
  std::string key_file;
  /// How often both files are checked for a change (modification time, inode, size); a changed
  /// pair is loaded for new connections. Zero checks only on `http_server::reload_tls`.
  std::chrono::milliseconds check_interval{5000};

  /// True if HTTPS is to be served.
  bool enabled() const { return !cert_file.empty(); }
};

/// How an `http_server` listens and what it tolerates from clients.
struct server_options {
  /// Address to bind, numeric IPv4 or IPv6.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks any free port (see `http_server::port`).
  std::uint16_t port = 8080;
  /// Number of I/O threads, at least 1; each runs an I/O context of its own, and new
  /// connections go to them in turn.
  std::size_t threads = 1;
  /// Largest accepted body in bytes; larger bodies get 413 with a JSON error body.
  std::size_t body_limit = 1 << 20;
  /// Deadline for reading one request's header and body, counted from its first byte.
  std::chrono::milliseconds read_timeout{30000};
  /// Deadline for writing one response.
  std::chrono::milliseconds write_timeout{30000};
  /// A new connection that sends no byte within it is closed (over TLS: no handshake byte).
  std::chrono::milliseconds first_byte_timeout{5000};
  /// A kept-alive connection that sends no byte of a next request within it is closed.
  std::chrono::milliseconds idle_timeout{30000};
  /// Most connections served at once. At the cap, a new connection evicts the connection that
  /// has waited longest for a request (a silent new one or an idle kept-alive one; never one
  /// with a request in progress), which is closed without a goodbye; with none to evict it
  /// takes one of `probe_reserve` slots.
  std::size_t max_connections = 1024;
  /// Most connections of one peer address at once, counting every state. A new connection of
  /// an address at its cap evicts that address's own longest-waiting connection; with every
  /// one of them in the middle of a request it is closed at once, without an answer.
  std::size_t max_connections_per_peer = 64;
  /// Peer addresses (numeric, IPv4-mapped as IPv4) exempt from `max_connections_per_peer`:
  /// routers that carry many clients' calls. Called under the server's lock, from any I/O
  /// thread: it must be cheap and thread-safe. Unset: none.
  std::function<bool(const std::string& address)> peer_cap_exempt;
  /// Extra slots for connections arriving when every served one is busy: such a connection
  /// may ask for one of `probe_paths` (answered, then closed); any other request is served if
  /// a place has become free or idle by the time its header arrived, and otherwise gets 503
  /// with `Retry-After: 1`. It has `first_byte_timeout` for its whole request header. Beyond
  /// the reserve a new connection is closed at once.
  std::size_t probe_reserve = 16;
  /// Paths (without query) that a reserve slot serves: the health probes.
  std::vector<std::string> probe_paths{"/healthz", "/readyz"};
  /// Told +1 when a connection is admitted and -1 when it is gone (a gauge of open
  /// connections); called under the server's lock, from any I/O thread: it must be cheap and
  /// thread-safe. Unset: nobody is told.
  std::function<void(int delta)> connections_changed;
  /// With a certificate, every connection speaks TLS (1.2 or later) before HTTP; its handshake
  /// counts against the first request's `read_timeout`. The certificate and key are reloaded
  /// when either file changes (checked every `tls_check_interval`) or on `reload_tls`.
  tls_settings tls;
};

/// The I/O context the calling thread runs when it is one of an `http_server`'s I/O threads
/// (each runs one context of its own); null on any other thread. A handler may start
/// asynchronous I/O of its own on it, so that its completions run on the same thread as the
/// request they serve.
boost::asio::io_context* current_io_context();

/// An HTTP/1.1 server, plain or over TLS, running on its own I/O threads.
///
/// One session per connection; requests on a connection are answered in order, one at a time.
class http_server {
 public:
  /// Binds and starts serving; a bind failure is an error naming host:port and the reason, an
  /// unusable certificate or key (or a key file others may read) one naming the file and the
  /// reason. A certificate not valid yet, expired or expiring within 30 days is logged as a
  /// warning.
  static caf::expected<std::unique_ptr<http_server>> start(server_options options, handler h);

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Stops the server, see `stop`.
  ~http_server();

  /// The port actually bound (useful with port 0).
  std::uint16_t port() const;

  /// Loads the certificate and key again from their files for new connections (connections
  /// already open keep theirs); with a file unusable the pair in use stays and the error, which
  /// is also logged, is returned. Does nothing for plain HTTP. Callable from any thread.
  caf::error reload_tls();

  /// Stops accepting, closes connections, joins the I/O threads; idempotent, also done by the
  /// destructor.
  ///
  /// Responses not yet written are dropped. A TLS connection not in the middle of a write is
  /// ended with `close_notify` first (a write of at most a second). Must not be called from a
  /// handler.
  void stop();

 private:
  struct impl;

  explicit http_server(std::unique_ptr<impl> state);

  /// Reloads the certificate and key whenever their files change, until `stop`.
  void watch_tls();

  std::unique_ptr<impl> impl_;
};

}  // namespace ab::net
