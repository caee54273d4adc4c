#include "router/node_client.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/error.hpp"
#include "net/http/server.hpp"

namespace ab::router {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// Where a node listens, from its base URL.
struct origin {
  bool tls = false;
  std::string host;
  std::string port;
  std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

std::optional<origin> parse_origin(const std::string& url) {
  origin o;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    o.tls = true;
    rest = url.substr(8);
  } else {
    return std::nullopt;
  }
  rest = rest.substr(0, rest.find('/'));
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    o.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.rfind(':');
    o.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (port.empty()) port = o.tls ? "443" : "80";
  if (o.host.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  o.port = port;
  return o;
}

call_result failure(call_result::outcome what, std::string detail) {
  call_result r;
  r.what = what;
  r.detail = std::move(detail);
  return r;
}

/// A call waiting for, or running on, a connection.
struct pending {
  pending(std::shared_ptr<const outgoing_call> c, std::function<void(call_result)> d, int v = 0)
      : call(std::move(c)), done(std::move(d)), protocol(v) {}
  /// Shared with the caller, who may send it again to another node: never copied here.
  std::shared_ptr<const outgoing_call> call;
  std::function<void(call_result)> done;
  /// The `X-AB-Protocol` version of the call to this node (0: none).
  int protocol = 0;
  /// Already sent again once after a reused connection turned out closed.
  bool retried = false;
};

using io_executor = asio::io_context::executor_type;
using socket_type = asio::basic_stream_socket<tcp, io_executor>;
using tls_socket = ssl::stream<socket_type>;
using timer_type = asio::basic_waitable_timer<steady, asio::wait_traits<steady>, io_executor>;

/// One kept-alive connection to a node, used by one call at a time. Its lane's one thread is
/// the only one that touches it (so its executor is that thread's context, with no strand).
struct connection : std::enable_shared_from_this<connection> {
  connection(asio::io_context& io, ssl::context* tls) : deadline(io.get_executor()) {
    if (tls)
      secure = std::make_unique<tls_socket>(io.get_executor(), *tls);
    else
      plain = std::make_unique<socket_type>(io.get_executor());
  }
  socket_type& lowest() { return secure ? secure->next_layer() : *plain; }
  /// Runs `f` on the stream HTTP is spoken over.
  template <class F>
  void with_stream(F&& f) {
    if (secure)
      f(*secure);
    else
      f(*plain);
  }
  /// One deadline for a whole step (a set-up, or an exchange: the call written and its answer
  /// read), rather than one per read and write: past it the socket is closed, which ends the
  /// pending operation with an error, and `timed_out` says why.
  void arm(std::chrono::milliseconds after) {
    timed_out = false;
    auto epoch = ++armed;
    deadline.expires_after(after);
    deadline.async_wait([weak = weak_from_this(), epoch](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->armed != epoch) return;
      self->timed_out = true;
      beast::error_code ignored;
      self->lowest().close(ignored);
    });
  }
  /// The step ended in time.
  void disarm() {
    ++armed;
    deadline.cancel();
  }
  void close() {
    disarm();
    beast::error_code ignored;
    lowest().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close(ignored);
  }

  std::unique_ptr<socket_type> plain;
  std::unique_ptr<tls_socket> secure;
  timer_type deadline;
  /// Bumped by each `arm` and `disarm`: a deadline that fires after its step ended is ignored.
  std::uint64_t armed = 0;
  bool timed_out = false;
  beast::flat_buffer buffer;
  /// The call's request line and header fields (the body is written from the call itself).
  std::string head;
  std::optional<http::response_parser<http::string_body>> parser;
};

/// True if `s` can go into a request line or a header field as it is (no line break or NUL).
bool fits_on_a_line(const std::string& s) {
  return s.find_first_of(std::string_view{"\r\n\0", 3}) == std::string::npos;
}

/// The request line and header fields of `call` to the node at `host_field`, ending with the
/// empty line; fields that could not be sent as they are (line breaks) are left out. A
/// `protocol` above 0 is sent as `X-AB-Protocol`, in place of any the call carried.
void write_head(std::string& out, const outgoing_call& call, const std::string& host_field,
                int protocol) {
  out.clear();
  out.append(call.method).append(" ").append(call.target).append(" HTTP/1.1\r\nHost: ");
  out.append(host_field).append("\r\n");
  if (protocol > 0) out.append("X-AB-Protocol: ").append(std::to_string(protocol)).append("\r\n");
  for (const auto& [name, value] : call.headers)
    if (!name.empty() && fits_on_a_line(name) && name.find(':') == std::string::npos &&
        fits_on_a_line(value) && !(protocol > 0 && beast::iequals(name, "X-AB-Protocol")))
      out.append(name).append(": ").append(value).append("\r\n");
  // As HTTP/1.1 frames a request: a length whenever there is a body or the method expects one.
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT" || call.method == "PATCH")
    out.append("Content-Length: ").append(std::to_string(call.body.size())).append("\r\n");
  out.append("\r\n");
}

/// The connections of one node on one lane, and the calls waiting for one; touched by the
/// lane's thread only, so it needs no lock.
struct pool {
  pool(asio::io_context& i, origin o) : io(i), where(std::move(o)) {}
  asio::io_context& io;
  origin where;
  /// The Host field, made once.
  std::string host_field = where.host + ":" + where.port;
  std::vector<std::pair<std::shared_ptr<connection>, steady::time_point>> idle;
  std::size_t open = 0;
  std::deque<std::shared_ptr<pending>> waiting;
};

/// One I/O context run by one thread, with its own pools: either one of the client's own
/// threads or an I/O thread of the server whose handler calls the client.
struct lane {
  explicit lane(asio::io_context& i) : io(i) {}
  asio::io_context& io;
  /// By the base URL the calls name (one spelling each).
  std::map<std::string, std::shared_ptr<pool>, std::less<>> pools;
};

/// Distinguishes the clients of a process in the threads' lane caches.
std::atomic<std::uint64_t> next_client_id{1};

/// The lane of each client this thread has served: found without a lock after the first call.
thread_local std::vector<std::pair<std::uint64_t, lane*>> lanes_of_thread;

/// The context the client's own thread runs.
thread_local asio::io_context* own_context = nullptr;

}  // namespace

struct node_client::impl {
  explicit impl(client_options o) : options(std::move(o)), tls(ssl::context::tls_client) {}

  const std::uint64_t id = next_client_id++;
  client_options options;
  /// The client's own contexts, one thread each: for calls from threads that run none.
  std::vector<std::unique_ptr<asio::io_context>> own;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  ssl::context tls;
  std::mutex mutex;
  /// Every lane (own and borrowed), under `mutex`.
  std::vector<std::unique_ptr<lane>> lanes;
  std::atomic<std::size_t> turn{0};
  std::atomic<bool> stopped{false};

  /// The lane of the context the calling thread runs, made on first use; null on a thread that
  /// runs none.
  lane* lane_here() {
    for (const auto& [owner, l] : lanes_of_thread)
      if (owner == id) return l;
    auto* io = own_context ? own_context : net::current_io_context();
    if (!io) return nullptr;
    std::lock_guard<std::mutex> guard{mutex};
    if (stopped) return nullptr;
    lane* found = nullptr;
    for (const auto& l : lanes)
      if (&l->io == io) found = l.get();
    if (!found) {
      lanes.push_back(std::make_unique<lane>(*io));
      found = lanes.back().get();
    }
    lanes_of_thread.emplace_back(id, found);
    return found;
  }

  std::shared_ptr<pool> pool_for(lane& l, const origin& o, const std::string& base_url) {
    if (auto it = l.pools.find(base_url); it != l.pools.end()) return it->second;
    auto p = std::make_shared<pool>(l.io, o);
    l.pools.emplace(base_url, p);
    return p;
  }

  /// Runs `p` on an idle connection, a new one, or queues it; on the pool's lane's thread.
  void dispatch(const std::shared_ptr<pool>& pl, std::shared_ptr<pending> p) {
    auto now = steady::now();
    while (!pl->idle.empty()) {
      auto [conn, since] = std::move(pl->idle.back());
      pl->idle.pop_back();
      if (now - since > options.idle_timeout) {
        --pl->open;
        conn->close();
        continue;
      }
      return run(pl, std::move(conn), std::move(p), true);
    }
    if (pl->open < options.pool_size) {
      ++pl->open;
      return connect(pl, std::move(p));
    }
    if (pl->waiting.size() < options.queue_limit) {
      pl->waiting.push_back(std::move(p));
      return;
    }
    p->done(failure(call_result::outcome::busy,
                    "every connection to " + pl->where.key() + " is busy and its queue is full"));
  }

  /// A connection slot of `pl` was given up: a waiting call gets a new connection.
  void slot_freed(const std::shared_ptr<pool>& pl) {
    if (pl->waiting.empty() || stopped) {
      --pl->open;
      return;
    }
    auto next = std::move(pl->waiting.front());
    pl->waiting.pop_front();
    connect(pl, std::move(next));
  }

  /// A connection is free again: the next waiting call takes it, or it idles.
  void recycle(const std::shared_ptr<pool>& pl, std::shared_ptr<connection> conn) {
    if (pl->waiting.empty() || stopped) {
      pl->idle.emplace_back(std::move(conn), steady::now());
      return;
    }
    auto next = std::move(pl->waiting.front());
    pl->waiting.pop_front();
    run(pl, std::move(conn), std::move(next), true);
  }

  /// Opens a new connection (the slot is counted already) and runs `p` on it.
  void connect(const std::shared_ptr<pool>& pl, std::shared_ptr<pending> p) {
    auto conn = std::make_shared<connection>(pl->io, pl->where.tls ? &tls : nullptr);
    auto resolver = std::make_shared<tcp::resolver>(pl->io);
    auto* self = this;
    auto fail = [self, pl, p, conn](call_result::outcome what, std::string why) {
      conn->close();
      self->slot_freed(pl);
      p->done(failure(what, std::move(why)));
    };
    // The set-up's deadline covers the name, the TCP connection and the TLS handshake.
    conn->arm(options.connect_timeout);
    resolver->async_resolve(
        pl->where.host, pl->where.port,
        [self, pl, p, conn, resolver, fail](beast::error_code ec, tcp::resolver::results_type eps) {
          if (!ec && conn->timed_out) ec = asio::error::timed_out;
          if (ec)
            return fail(call_result::outcome::unreachable,
                        "cannot resolve " + pl->where.host + ": " + ec.message());
          asio::async_connect(
              conn->lowest(), eps,
              [self, pl, p, conn, fail](beast::error_code ec, const tcp::endpoint&) {
                if (conn->timed_out) ec = asio::error::timed_out;
                if (ec == asio::error::connection_refused)
                  return fail(call_result::outcome::refused,
                              pl->where.key() + " refused the connection");
                if (ec)
                  return fail(call_result::outcome::unreachable,
                              "cannot connect to " + pl->where.key() + ": " + ec.message());
                // Calls and answers are small and interactive: no Nagle delay.
                beast::error_code ignored;
                conn->lowest().set_option(tcp::no_delay(true), ignored);
                if (!conn->secure) return self->run(pl, conn, p, false);
                if (!SSL_set_tlsext_host_name(conn->secure->native_handle(),
                                              pl->where.host.c_str()))
                  return fail(call_result::outcome::unreachable, "cannot set the TLS server name");
                conn->secure->set_verify_callback(ssl::host_name_verification(pl->where.host));
                conn->secure->async_handshake(
                    ssl::stream_base::client, [self, pl, p, conn, fail](beast::error_code ec) {
                      if (conn->timed_out) ec = asio::error::timed_out;
                      if (ec)
                        return fail(
                            call_result::outcome::unreachable,
                            "TLS handshake with " + pl->where.key() + " failed: " + ec.message());
                      self->run(pl, conn, p, false);
                    });
              });
        });
  }

  /// Sends `p` on `conn` and reads the answer, under one deadline.
  void run(const std::shared_ptr<pool>& pl, std::shared_ptr<connection> conn,
           std::shared_ptr<pending> p, bool reused) {
    write_head(conn->head, *p->call, pl->host_field, p->protocol);
    conn->arm(options.request_timeout);
    auto* self = this;
    const std::array<asio::const_buffer, 2> parts{asio::buffer(conn->head),
                                                  asio::buffer(p->call->body)};
    conn->with_stream([&](auto& stream) {
      asio::async_write(
          stream, parts, [self, pl, conn, p, reused](beast::error_code ec, std::size_t) {
            if (ec) return self->broken(pl, conn, p, reused, true, ec);
            conn->parser.emplace();
            conn->parser->body_limit(self->options.body_limit);
            conn->with_stream([&](auto& s) {
              http::async_read(s, conn->buffer, *conn->parser,
                               [self, pl, conn, p, reused](beast::error_code ec, std::size_t) {
                                 if (ec)
                                   return self->broken(pl, conn, p, reused,
                                                       !conn->parser->got_some(), ec);
                                 self->answered(pl, conn, p);
                               });
            });
          });
    });
  }

  void answered(const std::shared_ptr<pool>& pl, const std::shared_ptr<connection>& conn,
                const std::shared_ptr<pending>& p) {
    auto res = conn->parser->release();
    conn->parser.reset();
    call_result r;
    r.status = static_cast<int>(res.result_int());
    for (const auto& f : res) r.headers.emplace_back(f.name_string(), f.value());
    r.body = std::move(res.body());
    if (res.keep_alive() && !stopped) {
      conn->disarm();
      recycle(pl, conn);
    } else {
      conn->close();
      slot_freed(pl);
    }
    p->done(std::move(r));
  }

  void broken(const std::shared_ptr<pool>& pl, const std::shared_ptr<connection>& conn,
              const std::shared_ptr<pending>& p, bool reused, bool nothing_came,
              beast::error_code ec) {
    bool timed_out = conn->timed_out;
    conn->close();
    // A kept-alive connection the node closed while it idled: the call never reached the
    // node, so it goes again, once, on a new connection (the slot passes to it).
    if (reused && nothing_came && !p->retried && !stopped && !timed_out) {
      p->retried = true;
      return connect(pl, p);
    }
    slot_freed(pl);
    p->done(failure(call_result::outcome::lost,
                    "no whole answer from " + pl->where.key() + ": " +
                        (timed_out ? std::string{"timed out"} : ec.message())));
  }
};

caf::expected<std::unique_ptr<node_client>> node_client::start(client_options options) {
  if (options.threads == 0 || options.pool_size == 0)
    return make_error(errc::bad_config, "the node client needs at least 1 thread and 1 connection");
  auto state = std::make_shared<impl>(std::move(options));
  auto& ctx = state->tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (state->options.ca_file.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(state->options.ca_file, ec);
  if (ec)
    return make_error(errc::bad_config,
                      (state->options.ca_file.empty() ? std::string{"the system trust store"}
                                                      : state->options.ca_file) +
                          ": cannot be loaded as PEM CA certificates: " + ec.message());
  for (std::size_t i = 0; i < state->options.threads; ++i) {
    state->own.push_back(std::make_unique<asio::io_context>(1));
    state->work.push_back(asio::make_work_guard(*state->own.back()));
  }
  for (auto& io : state->own)
    state->threads.emplace_back([io = io.get()] {
      own_context = io;
      io->run();
    });
  return std::unique_ptr<node_client>(new node_client(std::move(state)));
}

node_client::node_client(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

node_client::~node_client() {
  stop();
}

void node_client::send(const std::string& base_url, outgoing_call call,
                       std::function<void(call_result)> done) {
  send(base_url, std::make_shared<const outgoing_call>(std::move(call)), std::move(done));
}

void node_client::send(const std::string& base_url, std::shared_ptr<const outgoing_call> call,
                       std::function<void(call_result)> done, int protocol) {
  if (impl_->stopped)
    return done(failure(call_result::outcome::unreachable, "the router is stopping"));
  auto* self = impl_.get();
  auto* here = self->lane_here();
  // A node called before from this lane: its pool is found by the URL as given, unparsed.
  if (here)
    if (auto it = here->pools.find(base_url); it != here->pools.end())
      return self->dispatch(it->second,
                            std::make_shared<pending>(std::move(call), std::move(done), protocol));
  auto o = parse_origin(base_url);
  if (!o)
    return done(failure(call_result::outcome::bad_url,
                        "not an http(s)://HOST:PORT URL: " + base_url.substr(0, 200)));
  auto p = std::make_shared<pending>(std::move(call), std::move(done), protocol);
  if (here) return self->dispatch(self->pool_for(*here, *o, base_url), std::move(p));
  // A thread that runs no context of its own: the call goes to one of the client's threads.
  auto& io = *self->own[self->turn++ % self->own.size()];
  asio::post(io, [keep = impl_, o = std::move(*o), base_url, p = std::move(p)]() mutable {
    auto* l = keep->lane_here();
    if (!l) return p->done(failure(call_result::outcome::unreachable, "the router is stopping"));
    keep->dispatch(keep->pool_for(*l, o, base_url), std::move(p));
  });
}

void node_client::stop() {
  if (impl_->stopped.exchange(true)) return;
  std::vector<lane*> borrowed, own;
  {
    std::lock_guard<std::mutex> guard{impl_->mutex};
    for (auto& l : impl_->lanes) {
      bool mine = std::any_of(impl_->own.begin(), impl_->own.end(),
                              [&](const auto& io) { return io.get() == &l->io; });
      (mine ? own : borrowed).push_back(l.get());
    }
  }
  // A server's lane is emptied on its own thread, which must still run: its connections
  // belong to that thread's context.
  for (auto* l : borrowed) {
    auto done = std::make_shared<std::promise<void>>();
    auto emptied = done->get_future();
    asio::post(l->io, [keep = impl_, l, done] {
      for (auto& [key, pl] : l->pools) {
        for (auto& [conn, since] : pl->idle) conn->close();
        pl->idle.clear();
        pl->waiting.clear();
      }
      l->pools.clear();
      done->set_value();
    });
    if (emptied.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      // That server stopped first: its context is gone or going, and its sockets with it;
      // they are left alone (to the process's exit) rather than closed on a dead context.
      static auto* abandoned = new std::vector<std::shared_ptr<void>>;
      static std::mutex abandoned_mutex;
      std::lock_guard<std::mutex> guard{abandoned_mutex};
      for (auto& [key, pl] : l->pools) abandoned->push_back(pl);
    }
  }
  // The client's own threads end; their connections are closed on this thread, their
  // contexts still alive.
  for (auto& w : impl_->work) w.reset();
  for (auto& io : impl_->own) io->stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  std::lock_guard<std::mutex> guard{impl_->mutex};
  for (auto* l : own) {
    for (auto& [key, pl] : l->pools) {
      for (auto& [conn, since] : pl->idle) conn->close();
      pl->idle.clear();
      pl->waiting.clear();
    }
    l->pools.clear();
  }
}

}  // namespace ab::router
