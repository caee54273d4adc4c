#include "bench/http_load.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace ab::bench {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

class connection;

/// What a connection reports to the generator that drives it.
class owner {
 public:
  virtual ~owner() = default;
  /// Takes the answer to a request; `reusable` says the connection can carry another.
  virtual void done(connection& c, load_reply&& reply, bool reusable) = 0;
  /// A connection is connected again and free.
  virtual void ready(connection& c) = 0;
  /// A connection is gone for good.
  virtual void lost(connection& c) = 0;
  /// True once connections must no longer reconnect.
  virtual bool closing() const = 0;
};

/// One keep-alive connection carrying one request at a time.
class connection {
 public:
  connection(owner& owner, asio::io_context& io, tcp::endpoint peer)
      : owner_(owner), socket_(io), peer_(std::move(peer)) {}

  /// Connects at once (before the schedule starts); false if the server refused.
  bool connect() {
    boost::system::error_code ec;
    socket_.connect(peer_, ec);
    if (!ec) socket_.set_option(tcp::no_delay(true), ec);
    return !ec;
  }

  /// Sends request `index`, scheduled for `due`, and reads its answer.
  void send(std::size_t index, load_request&& r, steady::time_point due);

  /// Closes the socket; pending operations end with an error.
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void on_read(boost::system::error_code ec);
  void finish(int status, std::string body, bool reusable);
  void reconnect();

  owner& owner_;
  tcp::socket socket_;
  tcp::endpoint peer_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  std::size_t index_ = 0;
  steady::time_point due_;
};

/// Keeps the schedule, the idle connections and the requests waiting for one.
class generator final : public owner {
 public:
  generator(const open_loop_options& o, const std::function<load_request(std::size_t)>& make,
            const std::function<void(const load_reply&)>& on_reply)
      : options_(o),
        make_(make),
        on_reply_(on_reply),
        timer_(io_),
        deadline_(io_),
        total_(static_cast<std::size_t>(o.rate * o.seconds)) {}

  open_loop_summary run();

  void done(connection& c, load_reply&& reply, bool reusable) override;
  void ready(connection& c) override { hand_out(c); }
  /// With no connection left, the waiting requests fail.
  void lost(connection&) override {
    if (--live_ == 0) fail_backlog();
  }
  /// True once the grace period ended.
  bool closing() const override { return closing_; }

 private:
  steady::time_point due(std::size_t i) const {
    return start_ + std::chrono::duration_cast<steady::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / options_.rate));
  }
  void tick();
  void dispatch(std::size_t i);
  void hand_out(connection& c);
  void fail(std::size_t i, steady::time_point at);
  void fail_backlog();
  void close_all();

  open_loop_options options_;
  const std::function<load_request(std::size_t)>& make_;
  const std::function<void(const load_reply&)>& on_reply_;
  asio::io_context io_;
  asio::steady_timer timer_;
  asio::steady_timer deadline_;
  std::vector<std::unique_ptr<connection>> connections_;
  std::vector<connection*> idle_;
  std::deque<std::pair<std::size_t, steady::time_point>> backlog_;
  std::size_t total_;
  std::size_t next_ = 0;
  std::size_t answered_ = 0;
  std::size_t live_ = 0;
  std::size_t max_backlog_ = 0;
  bool closing_ = false;
  steady::time_point start_;
};

void connection::send(std::size_t index, load_request&& r, steady::time_point due) {
  index_ = index;
  due_ = due;
  req_ = {};
  req_.method_string(r.method);
  req_.target(r.target);
  req_.version(11);
  req_.set(http::field::host, "127.0.0.1");
  req_.body() = std::move(r.body);
  req_.prepare_payload();
  http::async_write(socket_, req_, [this](boost::system::error_code ec, std::size_t) {
    if (ec) return finish(0, {}, false);
    res_ = {};
    http::async_read(socket_, buffer_, res_,
                     [this](boost::system::error_code ec, std::size_t) { on_read(ec); });
  });
}

void connection::on_read(boost::system::error_code ec) {
  if (ec) return finish(0, {}, false);
  finish(static_cast<int>(res_.result_int()), std::move(res_.body()), res_.keep_alive());
}

void connection::finish(int status, std::string body, bool reusable) {
  auto latency = std::chrono::duration<double, std::milli>(steady::now() - due_).count();
  owner_.done(*this, {index_, status, latency, std::move(body)}, reusable);
  if (!reusable) reconnect();
}

void connection::reconnect() {
  close();
  buffer_.clear();
  if (owner_.closing()) return owner_.lost(*this);
  socket_.async_connect(peer_, [this](boost::system::error_code ec) {
    if (ec || owner_.closing()) return owner_.lost(*this);
    socket_.set_option(tcp::no_delay(true), ec);
    owner_.ready(*this);
  });
}

open_loop_summary generator::run() {
  if (total_ == 0) return {};
  tcp::endpoint peer{asio::ip::make_address("127.0.0.1"), options_.port};
  for (std::size_t i = 0; i < options_.connections; ++i) {
    connections_.push_back(std::make_unique<connection>(*this, io_, peer));
    if (!connections_.back()->connect()) break;
    idle_.push_back(connections_.back().get());
    ++live_;
  }
  start_ = steady::now();
  deadline_.expires_at(due(total_) + std::chrono::duration_cast<steady::duration>(
                                         std::chrono::duration<double>(options_.grace_seconds)));
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (!ec) close_all();
  });
  tick();
  io_.run();
  auto elapsed = std::chrono::duration<double>(steady::now() - start_).count();
  return {total_, elapsed, max_backlog_};
}

void generator::tick() {
  auto now = steady::now();
  while (next_ < total_ && due(next_) <= now) dispatch(next_++);
  if (next_ == total_) return;
  timer_.expires_at(due(next_));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void generator::dispatch(std::size_t i) {
  if (live_ == 0) return fail(i, due(i));
  backlog_.emplace_back(i, due(i));
  if (!idle_.empty()) {
    auto* c = idle_.back();
    idle_.pop_back();
    hand_out(*c);
  }
  max_backlog_ = std::max(max_backlog_, backlog_.size());
}

void generator::hand_out(connection& c) {
  if (backlog_.empty()) return idle_.push_back(&c);
  auto [i, at] = backlog_.front();
  backlog_.pop_front();
  c.send(i, make_(i), at);
}

void generator::done(connection& c, load_reply&& reply, bool reusable) {
  on_reply_(reply);
  if (++answered_ == total_) {
    deadline_.cancel();
    close_all();
    return;
  }
  if (reusable) hand_out(c);
}

void generator::fail(std::size_t i, steady::time_point at) {
  auto latency = std::chrono::duration<double, std::milli>(steady::now() - at).count();
  on_reply_({i, 0, latency, {}});
  if (++answered_ == total_) deadline_.cancel();
}

void generator::fail_backlog() {
  while (!backlog_.empty()) {
    auto [i, at] = backlog_.front();
    backlog_.pop_front();
    fail(i, at);
  }
}

void generator::close_all() {
  closing_ = true;
  timer_.cancel();
  for (auto& c : connections_) c->close();
  // Requests never handed to a connection fail now; those in flight fail as their sockets close.
  fail_backlog();
  for (; next_ < total_; ++next_) fail(next_, due(next_));
}

/// Keeps every connection busy until the end: each sends its next request when it has its
/// answer.
class closed_generator final : public owner {
 public:
  closed_generator(const closed_loop_options& o,
                   const std::function<load_request(std::size_t)>& make,
                   const std::function<void(const load_reply&)>& on_reply)
      : options_(o), make_(make), on_reply_(on_reply), deadline_(io_) {}

  closed_loop_summary run() {
    tcp::endpoint peer{asio::ip::make_address("127.0.0.1"), options_.port};
    for (std::size_t i = 0; i < options_.connections; ++i) {
      connections_.push_back(std::make_unique<connection>(*this, io_, peer));
      if (!connections_.back()->connect()) {
        connections_.pop_back();
        break;
      }
    }
    start_ = steady::now();
    end_ = start_ + std::chrono::duration_cast<steady::duration>(
                        std::chrono::duration<double>(options_.seconds));
    // Answers still missing long after the end fail with their closed connections.
    deadline_.expires_at(end_ + std::chrono::duration_cast<steady::duration>(
                                    std::chrono::duration<double>(options_.grace_seconds)));
    deadline_.async_wait([this](boost::system::error_code ec) {
      if (!ec) close_all();
    });
    for (auto& c : connections_) {
      ++live_;
      send_next(*c);
    }
    if (live_ == 0) deadline_.cancel();
    io_.run();
    return {sent_, std::chrono::duration<double>(steady::now() - start_).count()};
  }

  void done(connection& c, load_reply&& reply, bool reusable) override {
    on_reply_(reply);
    if (reusable) send_next(c);
  }
  void ready(connection& c) override { send_next(c); }
  void lost(connection&) override { retire(); }
  bool closing() const override { return closing_; }

 private:
  void send_next(connection& c) {
    auto now = steady::now();
    if (closing_ || now >= end_) return retire();
    c.send(sent_, make_(sent_), now);
    ++sent_;
  }
  /// One connection is done; with the last, the run ends.
  void retire() {
    if (--live_ == 0) close_all();
  }
  void close_all() {
    if (closing_) return;
    closing_ = true;
    deadline_.cancel();
    for (auto& c : connections_) c->close();
  }

  closed_loop_options options_;
  const std::function<load_request(std::size_t)>& make_;
  const std::function<void(const load_reply&)>& on_reply_;
  asio::io_context io_;
  asio::steady_timer deadline_;
  std::vector<std::unique_ptr<connection>> connections_;
  std::size_t live_ = 0;
  std::size_t sent_ = 0;
  bool closing_ = false;
  steady::time_point start_, end_;
};

}  // namespace

closed_loop_summary run_closed_loop(const closed_loop_options& options,
                                    const std::function<load_request(std::size_t)>& make,
                                    const std::function<void(const load_reply&)>& on_reply) {
  closed_generator g{options, make, on_reply};
  return g.run();
}

open_loop_summary run_open_loop(const open_loop_options& options,
                                const std::function<load_request(std::size_t)>& make,
                                const std::function<void(const load_reply&)>& on_reply) {
  generator g{options, make, on_reply};
  return g.run();
}

}  // namespace ab::bench
