#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/http/detail/wire.hpp"
#include "net/http/server.hpp"

namespace ab::net::detail {

class server_core;

/// One client connection as the server core sees it, whatever its transport.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Destroys the connection; the implementation unregisters it from the core.
  virtual ~connection() = default;

  /// Starts serving on the connection's strand.
  virtual void run() = 0;

  /// Ends the connection from any thread; pending operations end, the response is dropped.
  virtual void shutdown() = 0;

  /// Closes the connection from any thread without a goodbye (for TLS: no `close_notify`), to
  /// make room; a connection that started a request meanwhile closes too.
  virtual void evict() = 0;

  /// Hands the handler's response to the connection's strand, from any thread.
  virtual void respond(http_response r) = 0;
};

/// The executor of every connection: its I/O thread's own context, which that one thread runs,
/// so that no strand is needed (and none of `any_io_executor`'s type erasure per operation).
using io_executor = boost::asio::io_context::executor_type;

/// An accepted socket, bound to its I/O thread's context.
using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, io_executor>;

/// A connection over TCP alone.
using plain_stream = boost::beast::basic_stream<boost::asio::ip::tcp, io_executor>;

/// A connection over TLS over TCP.
using tls_stream = boost::beast::ssl_stream<plain_stream>;

/// One connection: waits for a first byte, (for TLS, shakes hands,) reads a request, hands it
/// to the handler, writes the response, waits for the next request, repeats.
///
/// While it waits for a request (`first_byte_timeout` for a new connection, `idle_timeout`
/// between requests) it tells the core, which may evict it; once bytes arrive, the request
/// has `read_timeout`. A session in a reserve slot serves one probe and closes; it answers any
/// other request with 503.
///
/// `Stream` is `plain_stream` or `tls_stream`. Everything runs on the one thread that runs the
/// stream's I/O context. While the handler holds a request the session keeps itself alive
/// (`awaiting_`); `close` breaks that cycle.
template <class Stream>
class session final : public connection {
 public:
  /// A session on `stream`; a `reserve` one serves probes only. `tls` is the context `stream`
  /// was made with (null for plain TCP), kept alive as long as the session.
  session(Stream stream, std::shared_ptr<server_core> core, bool reserve,
          std::shared_ptr<boost::asio::ssl::context> tls);

  /// Unregisters from the core.
  ~session() override;

  void run() override;
  void shutdown() override;
  void evict() override;
  void respond(http_response r) override;

 private:
  /// Whether the stream speaks TLS.
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

  std::shared_ptr<session> self();
  plain_stream& tcp();
  void start();
  void await_request(std::chrono::milliseconds patience);
  void on_first_bytes(boost::beast::error_code ec, std::size_t bytes);
  void on_handshake(boost::beast::error_code ec, std::size_t used);
  void begin_request();
  void refuse_busy();
  void read_header();
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  void read_body();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_read_error(boost::beast::error_code ec);
  void dispatch_request();
  void on_response(http_response r);
  void answer_error(int status, std::string_view code, std::string_view message);
  void write(wire_response res);
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void stop();
  void linger();
  void say_goodbye();
  void on_goodbye(boost::beast::error_code ec);
  void drain();
  void on_drain(boost::beast::error_code ec, std::size_t bytes);
  void close();

  // Before the stream, which is made with it.
  std::shared_ptr<boost::asio::ssl::context> tls_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  wire_response response_;
  // The response's status line and fields, written with its body.
  std::string head_text_;
  std::shared_ptr<server_core> core_;
  // Self-reference while the handler holds the current request.
  std::shared_ptr<session> awaiting_;
  std::string remote_;
  // In a reserve slot: serves probes only, unless promoted to a served place.
  bool reserve_;
  // Whether the current request allows the connection to stay open, and was a HEAD.
  bool keep_alive_ = false;
  bool head_ = false;
  // Whether a TLS session is established and not yet ended, and whether a write is under way
  // (a TLS goodbye needs the one and no other write).
  bool tls_open_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

extern template class session<plain_stream>;
extern template class session<tls_stream>;

}  // namespace ab::net::detail
