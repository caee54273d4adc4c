#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/http/server.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace ab::net::detail {

class connection;

/// What one server shares with its sessions and with every responder it handed out.
///
/// It admits connections within the caps: `max_connections` served, `probe_reserve` more that
/// may only ask for a probe, `max_connections_per_peer` of one address. At a cap it evicts
/// the connection that has waited longest for a request (at the peer's cap, the peer's own),
/// so that silent or idle connections cannot lock out the rest; its sessions report when they
/// start and stop waiting.
///
/// Responders may outlive the server: they reach a session only through `deliver`, which does
/// nothing once `seal` ran, so no responder touches the I/O context after the server stopped.
class server_core : public std::enable_shared_from_this<server_core> {
 public:
  /// State for a server with `options`, calling `h` for each request and logging to `log`;
  /// with a `tls` context every connection speaks TLS, without one plain TCP.
  server_core(server_options options, handler h, std::shared_ptr<spdlog::logger> log,
              std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

  /// The server's options.
  const server_options& options() const { return options_; }

  /// The application's request handler.
  const handler& on_request() const { return handler_; }

  /// The `net` logger.
  spdlog::logger& log() const { return *log_; }

  /// True if `path` (without query) is one of the probes a reserve slot may serve.
  bool is_probe(std::string_view path) const;

  /// The session for a new connection: one that serves it (after evicting the longest-waiting
  /// one at a cap), one in a reserve slot that serves probes only, or none (closing the socket)
  /// when the server is stopping, the peer is at its cap with every connection busy, or the
  /// reserve is full.
  std::shared_ptr<connection> admit(
      boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>
          socket);

  /// Forgets a session; called by its destructor.
  void leave(const connection* s);

  /// Records that session `s` waits for the first byte of a request: it may be evicted.
  void waiting(const connection* s);

  /// Records that bytes of a request arrived on `s`; false if `s` was evicted meanwhile (it
  /// must close).
  bool busy(const connection* s);

  /// Moves session `s` from its reserve slot to a served place if one is free or can be made
  /// by eviction; false if none.
  bool promote(const connection* s);

  /// Hands `r` to session `s` on its strand; false if the session is gone or the server sealed.
  bool deliver(const std::weak_ptr<connection>& s, http_response r);

  /// Serves new connections with `tls` from now on; connections already open keep theirs.
  void replace_tls(std::shared_ptr<boost::asio::ssl::context> tls);

  /// Refuses new sessions and deliveries from now on; returns the live sessions.
  std::vector<std::shared_ptr<connection>> seal();

 private:
  /// What the core knows of one session.
  struct entry {
    std::weak_ptr<connection> session;
    std::string peer;
    /// Whether it counts against `max_connections` (false in a reserve slot or once evicted).
    bool counted = true;
    /// Whether it holds a reserve slot.
    bool reserve = false;
    /// Whether it was evicted (and no longer counts against its peer either).
    bool evicted = false;
    bool waiting = false;
    /// Its place in `waiting_` while `waiting`.
    std::list<const connection*>::iterator place;
  };

  /// Takes the longest-waiting session (of the address `of_peer`, if given) out of the counts
  /// and sets `victim` to it, to be closed (null if it is being destroyed already); false if
  /// none waits. Called with `mutex_` held.
  bool evict_one(std::shared_ptr<connection>& victim, const std::string* of_peer = nullptr);

  const server_options options_;
  const handler handler_;
  const std::shared_ptr<spdlog::logger> log_;

  // `deliver` holds it shared while it posts, `seal` exclusively to close it.
  std::shared_mutex gate_;
  bool open_ = true;

  std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unordered_map<const connection*, entry> sessions_;
  // Sessions waiting for a request, the longest-waiting first.
  std::list<const connection*> waiting_;
  std::unordered_map<std::string, std::size_t> per_peer_;
  std::size_t serving_ = 0;
  std::size_t reserved_ = 0;
  bool sealed_ = false;
};

}  // namespace ab::net::detail
