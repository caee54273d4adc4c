#include "net/http/server.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tests/net/http/http_test_support.hpp"

namespace {

using namespace ab::testing;
using ab::net::http_request;
using ab::net::http_response;
using ab::net::http_server;
using ab::net::responder;
using ab::net::server_options;

TEST(HttpServer, AnswersAGetWithTheHandlersStatusBodyAndHeaders) {
  std::promise<http_request> seen;
  auto server = serve([&](http_request&& req, const responder& respond) {
    seen.set_value(std::move(req));
    respond({201, "text/plain", "created", {{"X-Trace", "abc"}}});
  });
  ASSERT_TRUE(server);
  auto req = get("/v1/requests?state=running");
  req.set("X-Custom-Header", "Value");
  auto res = client{server->port()}.exchange(req);
  EXPECT_EQ(status(res), 201);
  EXPECT_EQ(res->body(), "created");
  EXPECT_EQ((*res)["X-Trace"], "abc");
  EXPECT_EQ((*res)[http::field::content_type], "text/plain");
  EXPECT_EQ((*res)[http::field::content_length], "7");
  EXPECT_EQ((*res)[http::field::server], "autobuild");
  auto got = seen.get_future().get();
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.target, "/v1/requests?state=running");
  EXPECT_EQ(got.headers["x-custom-header"], "Value");
  EXPECT_EQ(got.remote.rfind("127.0.0.1:", 0), 0u) << got.remote;
}

TEST(HttpServer, TakesAResponseFromAnotherThreadLater) {
  parking lot;
  auto server = serve(lot.handler());
  ASSERT_TRUE(server);
  client c{server->port()};
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto respond = lot.take();
  ASSERT_TRUE(respond);
  std::thread{[&] { respond({202, "text/plain", "later", {}}); }}.join();
  auto res = c.receive();
  EXPECT_EQ(status(res), 202);
  EXPECT_EQ(res->body(), "later");
}

TEST(HttpServer, ServesTwoRequestsOnOneKeptAliveConnection) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  client c{server->port()};
  auto first = c.exchange(get("/a"));
  auto second = c.exchange(get("/b"));
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->keep_alive());
  EXPECT_EQ(first->body(), "GET /a ");
  EXPECT_EQ(second->body(), "GET /b ");
}

TEST(HttpServer, AnswersPipelinedRequestsInOrder) {
  parking lot;
  auto server = serve(lot.handler());
  ASSERT_TRUE(server);
  client c{server->port()};
  ASSERT_TRUE(c.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (const char* body : {"one", "two"}) {
    auto respond = lot.take();
    ASSERT_TRUE(respond);
    respond({200, "text/plain", body, {}});
    auto res = c.receive();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body(), body);
  }
}

TEST(HttpServer, PassesAPostBodyToTheHandler) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  auto res = client{server->port()}.exchange(
      make_request(http::verb::post, "/v1/requests", R"({"host":"n1"})"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), R"(POST /v1/requests {"host":"n1"})");
}

TEST(HttpServer, SendsContinueToAClientThatExpectsIt) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  client c{server->port()};
  ASSERT_TRUE(
      c.send("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  auto interim = c.receive();
  EXPECT_EQ(status(interim), 100);
  ASSERT_TRUE(c.send("hi"));
  auto res = c.receive();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "PUT /x hi");
}

TEST(HttpServer, AnswersAnOversizedBodyWith413WithoutCallingTheHandler) {
  std::atomic<int> calls{0};
  server_options options;
  options.body_limit = 1024;
  auto server = serve(
      [&](http_request&& req, const responder& r) { ++calls, echo(std::move(req), r); }, options);
  ASSERT_TRUE(server);
  client c{server->port()};
  auto res = c.exchange(make_request(http::verb::post, "/big", std::string(65536, 'x')));
  EXPECT_EQ(status(res), 413);
  EXPECT_TRUE(has_error(res, "body_too_large"));
  EXPECT_EQ((*res)[http::field::content_type], "application/json");
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServer, AnswersGarbageWith400AndClosesOnlyThatConnection) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  client bystander{server->port()};
  client c{server->port()};
  ASSERT_TRUE(c.send("this is not http\r\n\r\n"));
  auto res = c.receive();
  EXPECT_EQ(status(res), 400);
  EXPECT_TRUE(has_error(res, "bad_request"));
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(status(bystander.exchange(get("/ok"))), 200);
}

TEST(HttpServer, Answers500WhenTheHandlerThrowsAndKeepsServing) {
  auto server = serve([](http_request&& req, const responder& respond) {
    if (req.target == "/boom") throw std::runtime_error("boom");
    echo(std::move(req), respond);
  });
  ASSERT_TRUE(server);
  client c{server->port()};
  auto failed = c.exchange(get("/boom"));
  EXPECT_EQ(status(failed), 500);
  EXPECT_TRUE(has_error(failed, "internal"));
  EXPECT_EQ(status(c.exchange(get("/ok"))), 200);
}

TEST(HttpServer, Answers500WhenTheHandlerDropsTheResponder) {
  auto server = serve([](http_request&&, responder) {});
  ASSERT_TRUE(server);
  EXPECT_EQ(status(client{server->port()}.exchange(get("/"))), 500);
}

TEST(HttpServer, ADroppingResponseClosesTheConnectionWithoutAnAnswer) {
  auto server = serve([](http_request&&, const responder& respond) {
    http_response r;
    r.drop = true;
    respond(r);
  });
  ASSERT_TRUE(server);
  client c{server->port()};
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.exchange(get("/")));
  // At once, not after the client's patience ran out.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(HttpServer, ClosesWhenTheClientAsksOrSpeaksHttp10) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  auto asks = get("/");
  asks.keep_alive(false);
  auto old = get("/");
  old.version(10);
  for (const auto& req : {asks, old}) {
    client c{server->port()};
    auto res = c.exchange(req);
    ASSERT_TRUE(res);
    EXPECT_EQ((*res)[http::field::connection], "close");
    EXPECT_TRUE(c.closed_by_server());
  }
}

TEST(HttpServer, StopIsIdempotentClosesConnectionsAndFreesThePort) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  client c{server->port()};
  ASSERT_TRUE(c.exchange(get("/")));
  auto port = server->port();
  server->stop();
  server->stop();
  EXPECT_TRUE(c.closed_by_server());
  server_options options;
  options.port = port;
  auto again = http_server::start(options, echo);
  ASSERT_TRUE(again) << ab::message_of(again.error());
  EXPECT_EQ(status(client{port}.exchange(get("/"))), 200);
}

TEST(HttpServer, ReportsABindFailureNamingHostAndPort) {
  auto server = serve(echo);
  ASSERT_TRUE(server);
  server_options options;
  options.port = server->port();
  auto second = http_server::start(options, echo);
  ASSERT_FALSE(second);
  EXPECT_TRUE(ab::is(second.error(), ab::errc::conflict));
  auto where = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_NE(ab::message_of(second.error()).find(where), std::string::npos);
}

/// Whether a `GET /` from `make` (a new client each try) is answered 200 before `patience` runs
/// out; the server frees places asynchronously.
template <class Make>
bool eventually_served(Make make) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (status(make().exchange(get("/"))) == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(HttpServer, Answers503WithRetryAfterWhenEveryConnectionIsBusy) {
  parking lot;
  auto park = lot.handler();
  server_options options;
  options.max_connections = 1;
  auto server = serve(
      [&](http_request&& req, responder respond) {
        if (req.target != "/slow") return echo(std::move(req), respond);
        park(std::move(req), std::move(respond));
      },
      options);
  ASSERT_TRUE(server);
  auto holder = std::make_optional<client>(server->port());
  ASSERT_TRUE(holder->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = lot.take();
  ASSERT_TRUE(held);
  client extra{server->port()};
  auto res = extra.exchange(get("/"));
  EXPECT_EQ(status(res), 503);
  EXPECT_EQ((*res)[http::field::retry_after], "1");
  EXPECT_TRUE(extra.closed_by_server());
  // Once the holder is answered and leaves, its place is free again.
  held({200, "text/plain", "done", {}});
  holder.reset();
  EXPECT_TRUE(eventually_served([&] { return client{server->port()}; }));
}

TEST(HttpServer, ClosesAConnectionThatSendsNothingAfterTheFirstByteTimeout) {
  server_options options;
  // Far beyond the client's patience: only the first-byte timeout can close it in time.
  options.read_timeout = std::chrono::minutes(5);
  options.first_byte_timeout = std::chrono::milliseconds(100);
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  client silent{server->port()};
  EXPECT_TRUE(silent.closed_by_server());
}

TEST(HttpServer, GivesARequestUnderWayTheReadTimeoutNotTheFirstByteTimeout) {
  server_options options;
  options.first_byte_timeout = std::chrono::milliseconds(100);
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  client slow{server->port()};
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(slow.send("Host: x\r\n\r\n"));
  EXPECT_EQ(status(slow.receive()), 200);
}

TEST(HttpServer, ClosesAKeptAliveConnectionIdleBeyondTheIdleTimeout) {
  server_options options;
  options.read_timeout = std::chrono::minutes(5);
  options.idle_timeout = std::chrono::milliseconds(100);
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  client c{server->port()};
  auto res = c.exchange(get("/"));
  ASSERT_EQ(status(res), 200);
  EXPECT_TRUE(res->keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST(HttpServer, ServesProbesAndClientsWhileSilentConnectionsOfOnePeerFillTheCap) {
  server_options options;
  options.max_connections = 8;
  options.max_connections_per_peer = 1000;
  options.first_byte_timeout = std::chrono::minutes(5);
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<client>> silent;
  for (int i = 0; i < 40; ++i) silent.push_back(std::make_unique<client>(server->port()));
  for (const char* target : {"/healthz", "/readyz", "/v1/requests"}) {
    auto res = client{server->port()}.exchange(get(target));
    EXPECT_EQ(status(res), 200) << target;
  }
  // The connection that waited longest made room first.
  EXPECT_TRUE(silent.front()->closed_by_server());
}

TEST(HttpServer, EvictsTheLeastRecentlyUsedIdleConnectionAtTheCap) {
  server_options options;
  options.max_connections = 3;
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  client a{server->port()};
  client b{server->port()};
  client c{server->port()};
  for (auto* x : {&a, &b, &c}) ASSERT_EQ(status(x->exchange(get("/"))), 200);
  // `b` and `c` were used again after `a`: `a` is the one to go.
  ASSERT_EQ(status(b.exchange(get("/again"))), 200);
  ASSERT_EQ(status(c.exchange(get("/again"))), 200);
  client d{server->port()};
  EXPECT_EQ(status(d.exchange(get("/new"))), 200);
  EXPECT_TRUE(a.closed_by_server());
  EXPECT_EQ(status(b.exchange(get("/still"))), 200);
}

TEST(HttpServer, ServesProbesFromTheReserveWhileEveryConnectionIsBusy) {
  parking lot;
  auto park = lot.handler();
  server_options options;
  options.max_connections = 2;
  auto server = serve(
      [&](http_request&& req, responder respond) {
        if (req.target == "/healthz") return respond({200, "text/plain", "ok", {}});
        park(std::move(req), std::move(respond));
      },
      options);
  ASSERT_TRUE(server);
  client busy1{server->port()};
  client busy2{server->port()};
  ASSERT_TRUE(busy1.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(busy2.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = lot.take();
  auto r2 = lot.take();
  ASSERT_TRUE(r1 && r2);
  client probe{server->port()};
  auto res = probe.exchange(get("/healthz"));
  EXPECT_EQ(status(res), 200);
  EXPECT_EQ(res->body(), "ok");
  EXPECT_TRUE(probe.closed_by_server());
  client other{server->port()};
  auto refused = other.exchange(get("/v1/requests"));
  EXPECT_EQ(status(refused), 503);
  EXPECT_EQ((*refused)[http::field::retry_after], "1");
  r1({200, "text/plain", "one", {}});
  r2({200, "text/plain", "two", {}});
  EXPECT_EQ(status(busy1.receive()), 200);
  EXPECT_EQ(status(busy2.receive()), 200);
}

TEST(HttpServer, ServesAConnectionFromTheReserveOnceAPlaceHasBecomeIdle) {
  parking lot;
  server_options options;
  options.max_connections = 1;
  auto server = serve(lot.handler(), options);
  ASSERT_TRUE(server);
  client holder{server->port()};
  ASSERT_TRUE(holder.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = lot.take();
  ASSERT_TRUE(held);
  // Connected while the only place is busy: in the reserve.
  client waiting{server->port()};
  held({200, "text/plain", "done", {}});
  ASSERT_EQ(status(holder.receive()), 200);
  // The holder is idle now: the request evicts it instead of getting 503.
  ASSERT_TRUE(waiting.send("GET /real HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto next = lot.take();
  ASSERT_TRUE(next);
  next({200, "text/plain", "served", {}});
  auto res = waiting.receive();
  EXPECT_EQ(status(res), 200);
  EXPECT_TRUE(res && res->keep_alive());
  EXPECT_TRUE(holder.closed_by_server());
}

TEST(HttpServer, RefusesAPeerWhoseConnectionsAreAllBusyWithoutAnAnswerAndServesOthers) {
  parking lot;
  auto park = lot.handler();
  server_options options;
  options.max_connections_per_peer = 2;
  auto server = serve(
      [&](http_request&& req, responder respond) {
        if (req.target != "/slow") return echo(std::move(req), respond);
        park(std::move(req), std::move(respond));
      },
      options);
  ASSERT_TRUE(server);
  client first{server->port()};
  client second{server->port()};
  ASSERT_TRUE(first.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = lot.take();
  auto r2 = lot.take();
  ASSERT_TRUE(r1 && r2);
  client third{server->port()};
  EXPECT_FALSE(third.exchange(get("/healthz")));
  client elsewhere{source{"127.0.0.2"}, server->port()};
  EXPECT_EQ(status(elsewhere.exchange(get("/"))), 200);
  // Once one of its connections ends, the address gets a place again.
  r1({200, "text/plain", "one", {}});
  r2({200, "text/plain", "two", {}});
  EXPECT_EQ(status(first.receive()), 200);
  EXPECT_EQ(status(second.receive()), 200);
  EXPECT_TRUE(eventually_served([&] { return client{server->port()}; }));
}

TEST(HttpServer, APeerExemptFromTheCapIsServedWhileItsConnectionsAreBusy) {
  parking lot;
  auto park = lot.handler();
  server_options options;
  options.max_connections_per_peer = 2;
  options.peer_cap_exempt = [](const std::string& peer) { return peer == "127.0.0.3"; };
  auto server = serve(
      [&](http_request&& req, responder respond) {
        if (req.target != "/slow") return echo(std::move(req), respond);
        park(std::move(req), std::move(respond));
      },
      options);
  ASSERT_TRUE(server);
  // A router carries many clients' calls: three of them busy at once, and a fourth.
  std::vector<std::unique_ptr<client>> busy;
  std::vector<responder> parked;
  for (int i = 0; i < 3; ++i) {
    busy.push_back(std::make_unique<client>(source{"127.0.0.3"}, server->port()));
    ASSERT_TRUE(busy.back()->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = lot.take();
    ASSERT_TRUE(r);
    parked.push_back(std::move(r));
  }
  client router{source{"127.0.0.3"}, server->port()};
  EXPECT_EQ(status(router.exchange(get("/"))), 200);
  // Anyone else keeps the cap.
  client first{server->port()};
  client second{server->port()};
  ASSERT_TRUE(first.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = lot.take();
  auto r2 = lot.take();
  ASSERT_TRUE(r1 && r2);
  client third{server->port()};
  EXPECT_FALSE(third.exchange(get("/healthz")));
  for (auto& r : parked) r({200, "text/plain", "done", {}});
  r1({200, "text/plain", "one", {}});
  r2({200, "text/plain", "two", {}});
  for (auto& c : busy) EXPECT_EQ(status(c->receive()), 200);
}

TEST(HttpServer, APeerAtItsCapEvictsItsOwnIdleConnectionNotAnotherPeers) {
  server_options options;
  options.max_connections_per_peer = 2;
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  // The other peer's connection is the idle one that waited longest.
  client other{source{"127.0.0.2"}, server->port()};
  ASSERT_EQ(status(other.exchange(get("/"))), 200);
  client a{server->port()};
  client b{server->port()};
  ASSERT_EQ(status(a.exchange(get("/"))), 200);
  ASSERT_EQ(status(b.exchange(get("/"))), 200);
  client c{server->port()};
  EXPECT_EQ(status(c.exchange(get("/"))), 200);
  EXPECT_TRUE(a.closed_by_server());
  EXPECT_EQ(status(other.exchange(get("/again"))), 200);
  EXPECT_EQ(status(b.exchange(get("/again"))), 200);
}

TEST(HttpServer, AnswersAProbeFromAPeerWhoseSilentConnectionsFillItsCap) {
  server_options options;
  options.max_connections = 8;
  options.max_connections_per_peer = 4;
  options.first_byte_timeout = std::chrono::minutes(5);
  auto server = serve(echo, options);
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<client>> silent;
  for (int i = 0; i < 40; ++i) silent.push_back(std::make_unique<client>(server->port()));
  EXPECT_EQ(status(client{server->port()}.exchange(get("/healthz"))), 200);
  client elsewhere{source{"127.0.0.2"}, server->port()};
  EXPECT_EQ(status(elsewhere.exchange(get("/v1/requests"))), 200);
}

TEST(HttpServer, AnswersEveryClientCorrectlyUnderConcurrentLoad) {
  std::mutex mutex;
  std::vector<std::thread> workers;
  server_options options;
  options.threads = 3;
  auto server = serve(
      [&](http_request&& req, const responder& respond) {
        if (req.target.back() % 2 == 0) return echo(std::move(req), respond);
        std::lock_guard<std::mutex> guard{mutex};
        workers.emplace_back([req = std::move(req), respond] { echo(http_request{req}, respond); });
      },
      options);
  ASSERT_TRUE(server);
  std::atomic<int> correct{0};
  std::vector<std::thread> clients;
  clients.reserve(6);
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      client c{server->port()};
      for (int j = 0; j < 20; ++j) {
        auto target = "/" + std::to_string(i) + "/" + std::to_string(j);
        auto res = c.exchange(get(target));
        if (res && res->body() == "GET " + target + " ") ++correct;
      }
    });
  }
  for (auto& t : clients) t.join();
  server->stop();
  for (auto& t : workers) t.join();
  EXPECT_EQ(correct.load(), 6 * 20);
}

TEST(HttpServer, ToleratesRespondersCalledAfterTheClientLeftOrTheServerStopped) {
  parking lot;
  auto server = serve(lot.handler());
  ASSERT_TRUE(server);
  auto gone = std::make_optional<client>(server->port());
  ASSERT_TRUE(gone->send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = lot.take();
  ASSERT_TRUE(first);
  gone.reset();
  first({200, "text/plain", "nobody listens", {}});
  client waiting{server->port()};
  ASSERT_TRUE(waiting.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = lot.take();
  ASSERT_TRUE(second);
  server->stop();
  EXPECT_TRUE(waiting.closed_by_server());
  second({200, "text/plain", "too late", {}});
  first({200, "text/plain", "twice", {}});
  server.reset();
  second({200, "text/plain", "server gone", {}});
}

}  // namespace
