#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/wire.hpp"
#include "net/http_server.hpp"

namespace ab::net::detail {

class server_core;

/// One connection: reads a request, hands it to the handler, writes the response, repeats.
///
/// Everything runs on the strand of the socket's executor. While the handler holds a request
/// the session keeps itself alive (`awaiting_`); `close` breaks that cycle.
class session : public std::enable_shared_from_this<session> {
 public:
  /// A session on `socket`; a `rejecting` one answers 503 and closes.
  session(boost::asio::ip::tcp::socket socket, std::shared_ptr<server_core> core, bool rejecting);

  /// Unregisters from the core.
  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Starts serving (or rejecting) on the strand.
  void run();

  /// Closes the connection from any thread; pending operations end, the response is dropped.
  void shutdown();

  /// Writes the handler's response; runs on the strand.
  void on_response(http_response r);

  /// The strand everything runs on.
  boost::beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }

 private:
  void start();
  void read_request();
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  void read_body();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_read_error(boost::beast::error_code ec);
  void dispatch_request();
  void answer_error(int status, std::string_view code, std::string_view message);
  void write(wire_response res);
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void linger();
  void on_linger(boost::beast::error_code ec, std::size_t bytes);
  void close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  wire_response response_;
  std::shared_ptr<server_core> core_;
  // Self-reference while the handler holds the current request.
  std::shared_ptr<session> awaiting_;
  std::string remote_;
  const bool rejecting_;
  // Whether the current request allows the connection to stay open, and was a HEAD.
  bool keep_alive_ = false;
  bool head_ = false;
  bool closed_ = false;
};

}  // namespace ab::net::detail
