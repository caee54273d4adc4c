#pragma once

// Blocking HTTP and HTTPS clients and helpers shared by the HTTP server tests.

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/error.hpp"
#include "net/http/server.hpp"

namespace ab::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// How long any client operation may take before the test gives up on it.
constexpr auto patience = std::chrono::seconds(10);

/// The local address a client connects from.
struct source {
  std::string address;
};

/// A blocking client of 127.0.0.1 whose every call gives up after `patience`.
///
/// `Stream` is `beast::tcp_stream` (HTTP) or `beast::ssl_stream<beast::tcp_stream>` (HTTPS,
/// verifying that the server's certificate is valid for 127.0.0.1).
template <class Stream>
class basic_client {
 public:
  /// Connects to `port` (and for HTTPS shakes hands, with `ctx...` the client's TLS context).
  template <class... Context>
  explicit basic_client(std::uint16_t port, Context&... ctx)
      : basic_client(source{"127.0.0.1"}, port, ctx...) {}

  /// Connects from the loopback address `from` (e.g. 127.0.0.2, another peer) to `port`.
  template <class... Context>
  basic_client(source from, std::uint16_t port, Context&... ctx) : stream_(ioc_, ctx...) {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    beast::error_code bound;
    socket.open(asio::ip::tcp::v4(), bound);
    if (!bound) socket.bind({asio::ip::make_address(from.address), 0}, bound);
    EXPECT_FALSE(bound) << "bind " << from.address << ": " << bound.message();
    auto ec = finish([&](auto done) {
      beast::get_lowest_layer(stream_).async_connect({asio::ip::make_address("127.0.0.1"), port},
                                                     done);
    });
    EXPECT_FALSE(ec) << "connect: " << ec.message();
    if constexpr (is_tls) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_.native_handle()), "127.0.0.1");
      handshake_error_ =
          finish([&](auto done) { stream_.async_handshake(asio::ssl::stream_base::client, done); });
    }
  }

  /// Why the TLS handshake failed; none if it succeeded.
  beast::error_code handshake_error() const { return handshake_error_; }

  /// Writes raw bytes; false if that failed.
  bool send(std::string_view bytes) {
    return !finish([&](auto done) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), done);
    });
  }

  /// Reads one response, none if the connection failed first.
  std::optional<response> receive() {
    response res;
    if (finish([&](auto done) { http::async_read(stream_, buffer_, res, done); })) return {};
    return res;
  }

  /// Sends `req` and reads the response.
  std::optional<response> exchange(const request& req) {
    std::ostringstream text;
    text << req;
    if (!send(text.str())) return std::nullopt;
    return receive();
  }

  /// Reads and drops whatever the server still sends; returns how the connection ended: `eof`
  /// (over TLS: the server said goodbye with `close_notify`), `stream_truncated` (TLS: the
  /// server hung up without it), a reset, or `timeout` if it stayed open for `patience`.
  beast::error_code read_to_end() {
    std::array<char, 1024> sink;
    beast::error_code ec;
    while (!ec) ec = finish([&](auto done) { stream_.async_read_some(asio::buffer(sink), done); });
    return ec;
  }

  /// True if the server closes the connection, after whatever it still sends.
  bool closed_by_server() {
    auto ec = read_to_end();
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::ssl::error::stream_truncated;
  }

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

  /// Runs the operation `start` begins until it completes or `patience` runs out.
  template <class Start>
  beast::error_code finish(Start start) {
    beast::error_code result;
    beast::get_lowest_layer(stream_).expires_after(patience);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  Stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code handshake_error_;
};

/// A plain HTTP client.
using client = basic_client<beast::tcp_stream>;

/// An HTTPS client.
using tls_client = basic_client<beast::ssl_stream<beast::tcp_stream>>;

/// A request with `Host` and `Content-Length` set.
inline request make_request(http::verb verb, std::string_view target, std::string body = "") {
  request req{verb, beast::string_view{target.data(), target.size()}, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

/// A GET request for `target`.
inline request get(std::string_view target) {
  return make_request(http::verb::get, target);
}

/// The status of `res`, 0 if there is no response.
inline int status(const std::optional<response>& res) {
  return res ? static_cast<int>(res->result_int()) : 0;
}

/// True if `res` carries the JSON error `code`.
inline bool has_error(const std::optional<response>& res, const std::string& code) {
  return res && res->body().find(R"("code":")" + code + '"') != std::string::npos;
}

/// A server on a free port of 127.0.0.1, or none after reporting why.
inline std::unique_ptr<net::http_server> serve(net::handler h, net::server_options options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = net::http_server::start(std::move(options), std::move(h));
  if (!server) {
    ADD_FAILURE() << message_of(server.error());
    return nullptr;
  }
  return std::move(*server);
}

/// Answers `METHOD TARGET BODY` as text.
inline void echo(net::http_request&& req, const net::responder& respond) {
  respond({200, "text/plain", req.method + " " + req.target + " " + req.body, {}});
}

/// Responders a handler parked, for the test to call when it chooses.
class parking {
 public:
  /// The handler that parks every responder.
  net::handler handler() {
    return [this](net::http_request&&, net::responder r) {
      std::lock_guard<std::mutex> guard{mutex_};
      parked_.push_back(std::move(r));
      arrived_.notify_all();
    };
  }

  /// The next parked responder, waiting up to `patience` for it; empty if none came.
  net::responder take() {
    std::unique_lock<std::mutex> lock{mutex_};
    if (!arrived_.wait_for(lock, patience, [&] { return !parked_.empty(); })) return nullptr;
    auto r = std::move(parked_.front());
    parked_.pop_front();
    return r;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<net::responder> parked_;
};

}  // namespace ab::testing
