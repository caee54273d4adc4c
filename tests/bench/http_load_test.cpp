#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bench/http_load.hpp"
#include "net/http/server.hpp"

namespace ab::testing {

namespace {

using bench::load_reply;
using bench::load_request;

/// A server on one I/O thread that echoes each body after `delay`.
std::unique_ptr<net::http_server> echo_server(std::chrono::milliseconds delay) {
  net::server_options o;
  o.port = 0;
  auto server = net::http_server::start(o, [delay](net::http_request&& req, net::responder r) {
    // Blocking the only I/O thread is the point: the server takes one request at a time.
    std::this_thread::sleep_for(delay);
    net::http_response res;
    res.body = req.body;
    r(std::move(res));
  });
  EXPECT_TRUE(server);
  return server ? std::move(*server) : nullptr;
}

/// A loopback port that nothing listens on.
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();
}

}  // namespace

TEST(OpenLoop, AnswersEveryRequestOnceAndCountsTheWaitForAConnection) {
  auto server = echo_server(std::chrono::milliseconds(20));
  ASSERT_TRUE(server);
  bench::open_loop_options o;
  o.port = server->port();
  o.rate = 200;
  o.seconds = 0.1;
  o.connections = 1;
  std::vector<load_reply> replies;
  auto summary = bench::run_open_loop(
      o,
      [](std::size_t i) {
        return load_request{"POST", "/x", std::to_string(i)};
      },
      [&](const load_reply& r) { replies.push_back(r); });

  EXPECT_EQ(summary.requests, 20u);
  ASSERT_EQ(replies.size(), 20u);
  std::set<std::size_t> seen;
  for (const auto& r : replies) {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::to_string(r.index));
    seen.insert(r.index);
  }
  EXPECT_EQ(seen.size(), 20u);
  // Sent every 5 ms but served every 20 ms over one connection: the last request waited for
  // the 19 before it, and its latency shows that wait.
  EXPECT_GE(replies.back().latency_ms, 200);
  EXPECT_GE(summary.max_backlog, 10u);
}

TEST(OpenLoop, FailsEveryRequestWhenNoServerListens) {
  bench::open_loop_options o;
  o.port = closed_port();
  o.rate = 1000;
  o.seconds = 0.05;
  o.connections = 4;
  std::vector<int> statuses;
  auto summary = bench::run_open_loop(
      o, [](std::size_t) { return load_request{}; },
      [&](const load_reply& r) { statuses.push_back(r.status); });
  EXPECT_EQ(summary.requests, 50u);
  EXPECT_EQ(statuses, std::vector<int>(50, 0));
}

TEST(ClosedLoop, SendsEachConnectionsNextRequestOnItsAnswerAndAnswersEveryOne) {
  auto server = echo_server(std::chrono::milliseconds(2));
  ASSERT_TRUE(server);
  bench::closed_loop_options o;
  o.port = server->port();
  o.connections = 3;
  o.seconds = 0.1;
  std::vector<load_reply> replies;
  auto summary = bench::run_closed_loop(
      o,
      [](std::size_t i) {
        return load_request{"POST", "/x", std::to_string(i)};
      },
      [&](const load_reply& r) { replies.push_back(r); });

  ASSERT_GT(summary.requests, 0u);
  ASSERT_EQ(replies.size(), summary.requests);
  std::set<std::size_t> seen;
  for (const auto& r : replies) {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::to_string(r.index));
    seen.insert(r.index);
  }
  // Every index from 0 up once: nothing sent twice, nothing lost.
  EXPECT_EQ(seen.size(), replies.size());
  EXPECT_EQ(*seen.rbegin(), replies.size() - 1);
}

TEST(ClosedLoop, SendsNothingWhenNoServerListens) {
  bench::closed_loop_options o;
  o.port = closed_port();
  o.connections = 4;
  o.seconds = 0.05;
  int replies = 0;
  auto summary = bench::run_closed_loop(
      o, [](std::size_t) { return load_request{}; }, [&](const load_reply&) { ++replies; });
  EXPECT_EQ(summary.requests, 0u);
  EXPECT_EQ(replies, 0);
}

}  // namespace ab::testing
