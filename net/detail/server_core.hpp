#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/ip/tcp.hpp>

#include "net/http_server.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace ab::net::detail {

class connection;

/// What one server shares with its sessions and with every responder it handed out.
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

  /// The session for a new connection: one that serves it, one that answers 503 when
  /// `max_connections` are served already, or none (closing the socket) when the server is
  /// stopping or as many rejections are still being written.
  std::shared_ptr<connection> admit(boost::asio::ip::tcp::socket socket);

  /// Forgets a session; called by its destructor.
  void leave(const connection* s, bool rejecting);

  /// Hands `r` to session `s` on its strand; false if the session is gone or the server sealed.
  bool deliver(const std::weak_ptr<connection>& s, http_response r);

  /// Refuses new sessions and deliveries from now on; returns the live sessions.
  std::vector<std::shared_ptr<connection>> seal();

 private:
  const server_options options_;
  const handler handler_;
  const std::shared_ptr<spdlog::logger> log_;
  const std::shared_ptr<boost::asio::ssl::context> tls_;

  // `deliver` holds it shared while it posts, `seal` exclusively to close it.
  std::shared_mutex gate_;
  bool open_ = true;

  std::mutex mutex_;
  std::unordered_map<const connection*, std::weak_ptr<connection>> sessions_;
  std::size_t serving_ = 0;
  std::size_t rejecting_ = 0;
  bool sealed_ = false;
};

}  // namespace ab::net::detail
