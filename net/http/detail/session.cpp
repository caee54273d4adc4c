#include "net/http/detail/session.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "net/http/detail/server_core.hpp"

namespace ab::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

/// Longest a closing connection waits for the client to stop sending and hang up, and for a
/// TLS goodbye (`close_notify`) to be written.
constexpr std::chrono::milliseconds linger_limit{1000};

/// Most bytes read at once while waiting for a request.
constexpr std::size_t read_chunk = 4096;

/// The interim answer a client sending `Expect: 100-continue` waits for.
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

/// The one-shot channel behind a `responder`: the first response wins, and dropping every copy
/// without answering answers 500.
class reply_slot {
 public:
  reply_slot(std::shared_ptr<server_core> core, std::weak_ptr<connection> s)
      : core_(std::move(core)), session_(std::move(s)) {}

  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  ~reply_slot() {
    if (answered_.load()) return;
    try {
      if (core_->deliver(session_,
                         error_response(500, "internal", "The request handler did not answer.")))
        core_->log().error("request handler dropped its responder without answering; sent 500");
    } catch (const std::exception&) {
      // Out of memory in a destructor: the connection stays until the server stops.
    }
  }

  /// Delivers `r`; false (and nothing sent) if a response was delivered already.
  bool answer(http_response r) {
    if (answered_.exchange(true)) return false;
    core_->deliver(session_, std::move(r));
    return true;
  }

  /// The logger to report misuse to.
  spdlog::logger& log() const { return core_->log(); }

 private:
  std::shared_ptr<server_core> core_;
  std::weak_ptr<connection> session_;
  std::atomic<bool> answered_{false};
};

/// `target` without its query, which may carry secrets that must not reach a log.
std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

template <class Stream>
session<Stream>::session(Stream stream, std::shared_ptr<server_core> core, bool reserve,
                         std::shared_ptr<asio::ssl::context> tls)
    : tls_(std::move(tls)), stream_(std::move(stream)), core_(std::move(core)), reserve_(reserve) {
  beast::error_code ec;
  auto peer = tcp().socket().remote_endpoint(ec);
  remote_ = ec ? std::string{"unknown"} : endpoint_string(peer);
}

template <class Stream>
session<Stream>::~session() {
  core_->leave(this);
}

template <class Stream>
void session<Stream>::run() {
  asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::start, self()));
}

template <class Stream>
void session<Stream>::shutdown() {
  asio::post(stream_.get_executor(), [self = self()] { self->stop(); });
}

template <class Stream>
void session<Stream>::evict() {
  asio::post(stream_.get_executor(), [self = self()] {
    if (!self->closed_) self->close();
  });
}

template <class Stream>
void session<Stream>::respond(http_response r) {
  // A handler that answers at once (a 429 at capacity) is written at once, in the I/O thread
  // that read the request; an answer from another thread is posted to that thread.
  asio::dispatch(stream_.get_executor(),
                 [self = self(), r = std::move(r)]() mutable { self->on_response(std::move(r)); });
}

template <class Stream>
std::shared_ptr<session<Stream>> session<Stream>::self() {
  return std::static_pointer_cast<session>(shared_from_this());
}

template <class Stream>
plain_stream& session<Stream>::tcp() {
  return beast::get_lowest_layer(stream_);
}

template <class Stream>
void session<Stream>::start() {
  // A connection that says nothing is owed nothing: a short deadline for its first byte (over
  // TLS, of the handshake), and until then the core may evict it.
  await_request(core_->options().first_byte_timeout);
}

template <class Stream>
void session<Stream>::await_request(std::chrono::milliseconds patience) {
  // A pipelined request is here already.
  if (buffer_.size() > 0) return begin_request();
  if (!reserve_) core_->waiting(this);
  tcp().expires_after(patience);
  // Before the handshake the bytes are read raw and handed to it.
  if (tls_open_)
    stream_.async_read_some(buffer_.prepare(read_chunk),
                            beast::bind_front_handler(&session::on_first_bytes, self()));
  else
    tcp().async_read_some(buffer_.prepare(read_chunk),
                          beast::bind_front_handler(&session::on_first_bytes, self()));
}

template <class Stream>
void session<Stream>::on_first_bytes(beast::error_code ec, std::size_t bytes) {
  if (closed_) return;
  if (ec) {
    // Silent past the deadline, or gone: how idle connections normally end.
    if (ec == beast::error::timeout) core_->log().debug("{}: closing: sent nothing", remote_);
    return close();
  }
  buffer_.commit(bytes);
  // Evicted while these bytes arrived: the place is someone else's now.
  if (!core_->busy(this)) return close();
  if constexpr (is_tls) {
    if (!tls_open_) {
      // The handshake counts against the first request's deadline.
      if (!reserve_) tcp().expires_after(core_->options().read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                              beast::bind_front_handler(&session::on_handshake, self()));
      return;
    }
  }
  begin_request();
}

template <class Stream>
void session<Stream>::on_handshake(beast::error_code ec, std::size_t /*used*/) {
  if (closed_) return;
  // What the handshake did not use is TLS records the client sent too early; they cannot be
  // handed back to OpenSSL, and a client waits for the handshake anyway.
  buffer_.clear();
  if (ec) {
    // Often a plain-HTTP client on the HTTPS port: nothing can be answered that it would read.
    core_->log().debug("{}: TLS handshake failed: {}", remote_, ec.message());
    return close();
  }
  tls_open_ = true;
  read_header();
}

template <class Stream>
void session<Stream>::begin_request() {
  // One deadline for the whole request, from its first byte; a reserve slot keeps its first
  // deadline, which must cover the header.
  if (!reserve_) tcp().expires_after(core_->options().read_timeout);
  read_header();
}

template <class Stream>
void session<Stream>::refuse_busy() {
  core_->log().debug("{}: refused, {} connections are busy", remote_,
                     core_->options().max_connections);
  auto r = error_response(503, "overloaded", "The server is at its connection limit; retry soon.");
  r.headers.emplace_back("Retry-After", "1");
  write(to_wire(std::move(r), false, false, core_->log()));
}

template <class Stream>
void session<Stream>::read_header() {
  parser_.emplace();
  parser_->body_limit(core_->options().body_limit);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&session::on_header, self()));
}

template <class Stream>
void session<Stream>::on_header(beast::error_code ec, std::size_t /*bytes*/) {
  if (closed_) return;
  if (ec) return on_read_error(ec);
  const auto& req = parser_->get();
  // A reserve slot is for the probes, which must answer while every other place is busy; any
  // other request is served only if a place has become free (or idle) since it connected.
  if (reserve_ &&
      !core_->is_probe(path_of(std::string_view{req.target().data(), req.target().size()}))) {
    if (!core_->promote(this)) return refuse_busy();
    reserve_ = false;
    tcp().expires_after(core_->options().read_timeout);
  }
  if (parser_->is_done() || req.version() < 11 ||
      !beast::iequals(req[http::field::expect], "100-continue"))
    return read_body();
  // The client holds the body back until it sees this (RFC 7231 section 5.1.1).
  writing_ = true;
  asio::async_write(stream_, asio::buffer(continue_line.data(), continue_line.size()),
                    [self = self()](beast::error_code ec, std::size_t /*bytes*/) {
                      self->writing_ = false;
                      if (self->closed_) return;
                      if (ec) return self->close();
                      self->read_body();
                    });
}

template <class Stream>
void session<Stream>::read_body() {
  if (parser_->is_done()) return dispatch_request();
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&session::on_read, self()));
}

template <class Stream>
void session<Stream>::on_read(beast::error_code ec, std::size_t /*bytes*/) {
  if (closed_) return;
  if (ec) return on_read_error(ec);
  dispatch_request();
}

template <class Stream>
void session<Stream>::on_read_error(beast::error_code ec) {
  // A client hanging up between requests is how keep-alive connections normally end.
  if (ec == http::error::end_of_stream) return close();
  if (ec == http::error::body_limit)
    return answer_error(413, "body_too_large",
                        "The request body exceeds the limit of " +
                            std::to_string(core_->options().body_limit) + " bytes.");
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return answer_error(431, "header_too_large", "The request header is too large.");
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::partial_message) {
    core_->log().debug("{}: malformed request: {}", remote_, ec.message());
    return answer_error(400, "bad_request", "The request is not valid HTTP/1.1: " + ec.message());
  }
  // A timeout, a reset or a client leaving mid-request: nobody is left to answer.
  if (ec != asio::error::operation_aborted)
    core_->log().debug("{}: closing: {}", remote_, ec.message());
  close();
}

template <class Stream>
void session<Stream>::dispatch_request() {
  const auto& req = parser_->get();
  // HTTP/1.0 connections close after one request even if the client offers keep-alive.
  keep_alive_ = req.version() >= 11 && req.keep_alive() && !reserve_;
  head_ = req.method() == http::verb::head;
  auto request = to_request(parser_->release(), remote_);
  parser_.reset();
  const std::string what = request.method + " " + std::string{path_of(request.target)};
  awaiting_ = self();
  auto slot = std::make_shared<reply_slot>(core_, weak_from_this());
  try {
    core_->on_request()(std::move(request), [slot](http_response r) {
      if (!slot->answer(std::move(r)))
        slot->log().warn("request handler answered twice; the second response is dropped");
    });
    return;
  } catch (const std::exception& e) {
    core_->log().error("{}: {}: request handler threw: {}", remote_, what, e.what());
  } catch (...) {
    core_->log().error("{}: {}: request handler threw a non-standard exception", remote_, what);
  }
  // Unless the handler answered before it threw.
  slot->answer(error_response(500, "internal", "The request handler failed."));
}

template <class Stream>
void session<Stream>::on_response(http_response r) {
  if (closed_ || !awaiting_) return;
  if (r.drop) return close();
  auto held = std::move(awaiting_);
  write(to_wire(std::move(r), head_, keep_alive_, core_->log()));
}

template <class Stream>
void session<Stream>::answer_error(int status, std::string_view code, std::string_view message) {
  write(to_wire(error_response(status, code, message), false, false, core_->log()));
}

template <class Stream>
void session<Stream>::write(wire_response res) {
  response_ = std::move(res);
  head_text_ = head_of(response_);
  tcp().expires_after(core_->options().write_timeout);
  writing_ = true;
  const std::array<asio::const_buffer, 2> parts{asio::buffer(head_text_),
                                                asio::buffer(response_.body())};
  asio::async_write(stream_, parts, beast::bind_front_handler(&session::on_write, self()));
}

template <class Stream>
void session<Stream>::on_write(beast::error_code ec, std::size_t /*bytes*/) {
  writing_ = false;
  if (closed_) return;
  if (ec) {
    core_->log().debug("{}: write failed: {}", remote_, ec.message());
    return close();
  }
  if (!response_.keep_alive()) return linger();
  response_ = {};
  await_request(core_->options().idle_timeout);
}

template <class Stream>
void session<Stream>::stop() {
  if (closed_) return;
  // A half-written response cannot be followed by a TLS goodbye: that connection is cut.
  if (!tls_open_ || writing_) return close();
  closed_ = true;
  auto held = std::move(awaiting_);
  // Ends a pending read; its handler sees `closed_`.
  tcp().cancel();
  say_goodbye();
}

template <class Stream>
void session<Stream>::linger() {
  if constexpr (is_tls)
    say_goodbye();
  else
    drain();
}

template <class Stream>
void session<Stream>::say_goodbye() {
  if constexpr (is_tls) {
    // Marked as answered, the shutdown only sends `close_notify`: waiting for the client's
    // answer would fail on data it still sends ("application data after close notify").
    SSL_set_shutdown(stream_.native_handle(), SSL_RECEIVED_SHUTDOWN);
    tls_open_ = false;
    tcp().expires_after(
        std::min<std::chrono::milliseconds>(core_->options().write_timeout, linger_limit));
    writing_ = true;
    stream_.async_shutdown(beast::bind_front_handler(&session::on_goodbye, self()));
  }
}

template <class Stream>
void session<Stream>::on_goodbye(beast::error_code ec) {
  writing_ = false;
  // After `stop`, or with the client gone, nothing is left to wait for.
  if (closed_ || ec) return close();
  drain();
}

template <class Stream>
void session<Stream>::drain() {
  // Half-close, then drain what the client still sends: closing with unread data makes the
  // kernel reset the connection, which can destroy the response before the client reads it.
  // Over TLS the records are dropped undecrypted.
  beast::error_code ec;
  tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) return close();
  tcp().expires_after(
      std::min<std::chrono::milliseconds>(core_->options().read_timeout, linger_limit));
  buffer_.clear();
  tcp().async_read_some(buffer_.prepare(4096),
                        beast::bind_front_handler(&session::on_drain, self()));
}

template <class Stream>
void session<Stream>::on_drain(beast::error_code ec, std::size_t /*bytes*/) {
  if (closed_) return;
  // The client hung up, the deadline passed, or the connection failed.
  if (ec) return close();
  tcp().async_read_some(buffer_.prepare(4096),
                        beast::bind_front_handler(&session::on_drain, self()));
}

template <class Stream>
void session<Stream>::close() {
  closed_ = true;
  // Breaks the self-reference only when this function is done with the members.
  auto held = std::move(awaiting_);
  tcp().close();
}

template class session<plain_stream>;
template class session<tls_stream>;

}  // namespace ab::net::detail
