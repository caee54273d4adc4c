#include "net/http/server.hpp"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/error.hpp"
#include "net/http/detail/server_core.hpp"
#include "net/http/detail/session.hpp"
#include "net/http/detail/tls_context.hpp"

namespace ab::net {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace detail {

namespace {

/// Pause before accepting again after the process ran out of descriptors or memory.
constexpr std::chrono::milliseconds accept_backoff{100};

/// The `net` logger, registered on first use.
std::shared_ptr<spdlog::logger> net_logger() {
  if (auto log = spdlog::get("net")) return log;
  auto log = spdlog::default_logger()->clone("net");
  try {
    spdlog::register_logger(log);
  } catch (const spdlog::spdlog_ex&) {
    // Another server registered it first.
    if (auto registered = spdlog::get("net")) return registered;
  }
  return log;
}

/// The context of the I/O thread running, for `current_io_context`.
thread_local asio::io_context* running_context = nullptr;

/// Runs `ioc` until it runs out of work; an exception escaping a handler is logged, not fatal.
void run_io(asio::io_context& ioc, spdlog::logger& log) {
  running_context = &ioc;
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log.error("I/O thread caught an exception and carries on: {}", e.what());
    } catch (...) {
      log.error("I/O thread caught a non-standard exception and carries on");
    }
  }
}

/// True for accept failures that repeat at once unless the process waits for resources.
bool is_resource_shortage(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace

asio::io_context* current_context() {
  return running_context;
}

/// Accepts connections and hands them to the core, each to the next of the I/O contexts in
/// turn; everything of its own runs on the acceptor's strand (on the first context).
class listener {
 public:
  listener(std::vector<asio::io_context*> contexts, std::shared_ptr<server_core> core)
      : contexts_(std::move(contexts)),
        acceptor_(asio::make_strand(*contexts_.front())),
        retry_(acceptor_.get_executor()),
        core_(std::move(core)) {}

  /// Opens, binds and listens on `ep`.
  error_code listen(const tcp::endpoint& ep) {
    error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    return ec;
  }

  /// The bound port.
  std::uint16_t port() const {
    error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  /// Accepts the next connection, bound to the next context (run by one thread: no strand).
  void accept() {
    auto& ioc = *contexts_[next_++ % contexts_.size()];
    acceptor_.async_accept(ioc.get_executor(), [this](error_code ec, detail::socket_type socket) {
      on_accept(ec, std::move(socket));
    });
  }

  /// Stops accepting; callable from any thread.
  void close() {
    asio::post(acceptor_.get_executor(), [this] {
      error_code ec;
      acceptor_.close(ec);
      retry_.cancel();
    });
  }

 private:
  void on_accept(error_code ec, detail::socket_type socket) {
    if (!acceptor_.is_open()) return;
    if (ec && is_resource_shortage(ec)) {
      core_->log().warn("accepting failed: {}; retrying in {} ms", ec.message(),
                        accept_backoff.count());
      retry_.expires_after(accept_backoff);
      retry_.async_wait([this](error_code ec) {
        if (!ec && acceptor_.is_open()) accept();
      });
      return;
    }
    if (ec) {
      // The failure concerns this one connection, e.g. a client that gave up before the accept.
      core_->log().debug("accepting failed: {}", ec.message());
    } else {
      try {
        if (auto s = core_->admit(std::move(socket))) s->run();
      } catch (const std::exception& e) {
        core_->log().error("cannot start a session: {}", e.what());
      }
    }
    accept();
  }

  std::vector<asio::io_context*> contexts_;
  std::size_t next_ = 0;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<server_core> core_;
};

}  // namespace detail

struct http_server::impl {
  std::shared_ptr<detail::server_core> core;
  // Serialises reloads of the certificate and key, and guards what the watcher knows.
  std::mutex tls_mutex;
  detail::file_signature tls_files{};
  std::condition_variable tls_wake;
  std::thread tls_watcher;
  bool watching = true;
  // One context per I/O thread: a connection's handlers, and the answers handed to it, wake
  // only its own thread, never a second one to share the work.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  // Keep the I/O threads running until `stop` has handed them the last work.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<detail::listener> acceptor;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::mutex stop_mutex;
  bool stopped = false;
};

namespace {

/// Why `options` cannot be served, or none.
caf::error validate(const server_options& options, const std::string& where) {
  auto bad = [&](const char* why) {
    return make_error(errc::bad_config, "cannot serve HTTP on " + where + ": " + why);
  };
  if (options.threads == 0) return bad("threads must be at least 1.");
  if (options.max_connections == 0) return bad("max_connections must be at least 1.");
  if (options.read_timeout.count() <= 0) return bad("read_timeout must be positive.");
  if (options.write_timeout.count() <= 0) return bad("write_timeout must be positive.");
  if (options.first_byte_timeout.count() <= 0) return bad("first_byte_timeout must be positive.");
  if (options.idle_timeout.count() <= 0) return bad("idle_timeout must be positive.");
  if (options.max_connections_per_peer == 0)
    return bad("max_connections_per_peer must be at least 1.");
  if (options.tls.check_interval.count() < 0)
    return bad("tls.check_interval must not be negative.");
  if (!options.tls.enabled() && !options.tls.key_file.empty())
    return bad("a TLS private key is given without a certificate.");
  return caf::none;
}

/// How long before its end a certificate is warned about.
constexpr std::chrono::hours expiry_warning{30 * 24};

/// The TLS context `options` ask for, null for plain HTTP; warns on `log` about a certificate
/// outside or near the end of its validity.
caf::expected<std::shared_ptr<asio::ssl::context>> tls_context_for(const server_options& options,
                                                                   spdlog::logger& log) {
  if (!options.tls.enabled()) return std::shared_ptr<asio::ssl::context>{};
  auto ctx = detail::make_tls_context(options.tls);
  if (!ctx) return ctx;
  if (auto warning = detail::validity_warning(**ctx, std::time(nullptr), expiry_warning))
    log.warn("{}: {}", options.tls.cert_file, *warning);
  return ctx;
}

}  // namespace

caf::expected<std::unique_ptr<http_server>> http_server::start(server_options options, handler h) {
  auto where = options.host + ":" + std::to_string(options.port);
  if (!h) return make_error(errc::invalid_argument, "HTTP server on " + where + " has no handler.");
  if (auto err = validate(options, where)) return err;
  error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec)
    return make_error(errc::bad_config,
                      "cannot listen on " + where + ": the host is not a numeric IP address.");
  auto tls = tls_context_for(options, *detail::net_logger());
  if (!tls) return tls.error();
  const char* scheme = *tls ? "HTTPS" : "HTTP";
  auto threads = options.threads;
  auto state = std::make_unique<impl>();
  if (options.tls.enabled())
    state->tls_files = detail::signature_of(options.tls.cert_file, options.tls.key_file);
  state->core = std::make_shared<detail::server_core>(std::move(options), std::move(h),
                                                      detail::net_logger(), std::move(*tls));
  std::vector<asio::io_context*> contexts;
  for (std::size_t i = 0; i < threads; ++i) {
    state->contexts.push_back(std::make_unique<asio::io_context>(1));
    state->work.push_back(asio::make_work_guard(*state->contexts.back()));
    contexts.push_back(state->contexts.back().get());
  }
  state->acceptor = std::make_unique<detail::listener>(std::move(contexts), state->core);
  if (auto err = state->acceptor->listen(tcp::endpoint{address, state->core->options().port}))
    return make_error(err == asio::error::address_in_use ? errc::conflict : errc::bad_config,
                      "cannot listen on " + where + ": " + err.message() + ".");
  state->port = state->acceptor->port();
  state->acceptor->accept();
  std::unique_ptr<http_server> server{new http_server(std::move(state))};
  auto& self = *server->impl_;
  try {
    for (auto& ioc : self.contexts)
      self.threads.emplace_back(
          [&ioc = *ioc, &core = *self.core] { detail::run_io(ioc, core.log()); });
    if (self.core->options().tls.enabled() && self.core->options().tls.check_interval.count() > 0)
      self.tls_watcher = std::thread{[server = server.get()] { server->watch_tls(); }};
  } catch (const std::system_error& e) {
    server->stop();
    return make_error(errc::bad_config,
                      "cannot start I/O threads for " + where + ": " + e.what() + ".");
  }
  self.core->log().info("serving {} on {}:{} with {} I/O threads", scheme,
                        self.core->options().host, self.port, threads);
  return server;
}

asio::io_context* current_io_context() {
  return detail::current_context();
}

http_server::http_server(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

http_server::~http_server() {
  stop();
}

std::uint16_t http_server::port() const {
  return impl_->port;
}

caf::error http_server::reload_tls() {
  const auto& options = impl_->core->options();
  if (!options.tls.enabled()) return caf::none;
  std::lock_guard<std::mutex> guard{impl_->tls_mutex};
  // Taken before reading: a change while the files are read is seen by the next check.
  impl_->tls_files = detail::signature_of(options.tls.cert_file, options.tls.key_file);
  auto ctx = tls_context_for(options, impl_->core->log());
  if (!ctx) {
    impl_->core->log().error("TLS certificate or key refused, the pair in use stays: {}",
                             message_of(ctx.error()));
    return ctx.error();
  }
  impl_->core->replace_tls(std::move(*ctx));
  impl_->core->log().info("TLS certificate {} and key {} loaded for new connections",
                          options.tls.cert_file, options.tls.key_file);
  return caf::none;
}

void http_server::watch_tls() {
  const auto& tls = impl_->core->options().tls;
  std::unique_lock<std::mutex> lock{impl_->tls_mutex};
  while (!impl_->tls_wake.wait_for(lock, tls.check_interval, [&] { return !impl_->watching; })) {
    if (detail::signature_of(tls.cert_file, tls.key_file) == impl_->tls_files) continue;
    lock.unlock();
    // Logged there; the pair in use stays, and this edit is not complained about again.
    (void)reload_tls();
    lock.lock();
  }
}

void http_server::stop() {
  std::lock_guard<std::mutex> guard{impl_->stop_mutex};
  if (impl_->stopped) return;
  impl_->stopped = true;
  {
    std::lock_guard<std::mutex> tls_guard{impl_->tls_mutex};
    impl_->watching = false;
  }
  impl_->tls_wake.notify_all();
  if (impl_->tls_watcher.joinable()) impl_->tls_watcher.join();
  auto live = impl_->core->seal();
  impl_->acceptor->close();
  for (const auto& s : live) s->shutdown();
  live.clear();
  // With the acceptor and every connection closed, the I/O contexts run out of work.
  impl_->work.clear();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Before the contexts: the acceptor's socket needs the first.
  impl_->acceptor.reset();
  impl_->contexts.clear();
  impl_->core->log().info("stopped serving HTTP on port {}", impl_->port);
}

}  // namespace ab::net
