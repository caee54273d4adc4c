// The HTTP server over TLS, with a certificate made for each test.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ssl/context.hpp>

#include "core/error.hpp"
#include "net/http_server.hpp"
#include "tests/fakes/test_cert.hpp"
#include "tests/net/http_test_support.hpp"

namespace ab::testing {

namespace {

using net::http_server;
using net::server_options;

class HttpsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ab_https_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    cert_ = make_test_cert(dir_);
    trust_.load_verify_file(cert_.cert_file);
    trust_.set_verify_mode(asio::ssl::verify_peer);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// A server of `h` on a free port with the test's certificate and default options but for
  /// what `adjust` changes.
  std::unique_ptr<http_server> serve_tls(const std::function<void(server_options&)>& adjust = {},
                                         net::handler h = echo) {
    server_options options;
    options.tls = {cert_.cert_file, cert_.key_file};
    if (adjust) adjust(options);
    return serve(std::move(h), std::move(options));
  }

  /// Why starting a server with `tls` fails; empty if it starts.
  std::string start_error(net::tls_settings tls) const {
    server_options options;
    options.port = 0;
    options.tls = std::move(tls);
    auto server = http_server::start(options, echo);
    if (server) return {};
    EXPECT_TRUE(is(server.error(), errc::bad_config));
    return message_of(server.error());
  }

  std::filesystem::path dir_;
  test_cert cert_;
  // A client context that trusts the test's certificate only.
  asio::ssl::context trust_{asio::ssl::context::tls_client};
};

TEST_F(HttpsServer, AnswersAClientThatVerifiesItsCertificate) {
  auto server = serve_tls();
  ASSERT_TRUE(server);
  tls_client c{server->port(), trust_};
  ASSERT_FALSE(c.handshake_error()) << c.handshake_error().message();
  auto res = c.exchange(get("/hello"));
  EXPECT_EQ(status(res), 200);
  EXPECT_EQ(res->body(), "GET /hello ");
}

TEST_F(HttpsServer, IsRefusedByAClientThatTrustsAnotherCertificate) {
  auto server = serve_tls();
  ASSERT_TRUE(server);
  auto other = make_test_cert(dir_, "other");
  asio::ssl::context wrong_trust{asio::ssl::context::tls_client};
  wrong_trust.load_verify_file(other.cert_file);
  wrong_trust.set_verify_mode(asio::ssl::verify_peer);
  tls_client c{server->port(), wrong_trust};
  EXPECT_TRUE(c.handshake_error());
}

TEST_F(HttpsServer, ServesSeveralRequestsOnOneKeptAliveConnection) {
  auto server = serve_tls();
  ASSERT_TRUE(server);
  tls_client c{server->port(), trust_};
  for (int i = 0; i < 3; ++i) {
    auto body = "request " + std::to_string(i);
    auto res = c.exchange(make_request(http::verb::post, "/k", body));
    ASSERT_TRUE(res) << i;
    EXPECT_TRUE(res->keep_alive());
    EXPECT_EQ(res->body(), "POST /k " + body);
  }
}

TEST_F(HttpsServer, GivesAPlainHttpClientNoAnswerAndKeepsServingTlsClients) {
  auto server = serve_tls();
  ASSERT_TRUE(server);
  client plain{server->port()};
  EXPECT_FALSE(plain.exchange(get("/")));
  tls_client c{server->port(), trust_};
  EXPECT_EQ(status(c.exchange(get("/"))), 200);
}

TEST_F(HttpsServer, DropsAClientThatNeverStartsTheHandshakeAfterTheReadTimeout) {
  auto server = serve_tls([](auto& o) { o.read_timeout = std::chrono::milliseconds(200); });
  ASSERT_TRUE(server);
  client silent{server->port()};
  EXPECT_TRUE(silent.closed_by_server());
}

TEST_F(HttpsServer, AnswersAnOversizedBodyWith413AndSaysGoodbye) {
  auto server = serve_tls([](auto& o) { o.body_limit = 1024; });
  ASSERT_TRUE(server);
  tls_client c{server->port(), trust_};
  auto res = c.exchange(make_request(http::verb::post, "/big", std::string(65536, 'x')));
  EXPECT_EQ(status(res), 413);
  EXPECT_TRUE(has_error(res, "body_too_large"));
  EXPECT_EQ(c.read_to_end(), asio::error::eof);
}

TEST_F(HttpsServer, Answers503BeyondMaxConnections) {
  auto server = serve_tls([](auto& o) { o.max_connections = 1; });
  ASSERT_TRUE(server);
  tls_client holder{server->port(), trust_};
  ASSERT_EQ(status(holder.exchange(get("/"))), 200);
  tls_client extra{server->port(), trust_};
  auto res = extra.exchange(get("/"));
  EXPECT_EQ(status(res), 503);
  EXPECT_EQ((*res)[http::field::retry_after], "1");
  EXPECT_TRUE(extra.closed_by_server());
}

TEST_F(HttpsServer, StopSaysGoodbyeToAClientAwaitingAnAnswer) {
  parking lot;
  auto server = serve_tls({}, lot.handler());
  ASSERT_TRUE(server);
  tls_client c{server->port(), trust_};
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto respond = lot.take();
  ASSERT_TRUE(respond);
  server->stop();
  auto ec = c.read_to_end();
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

TEST_F(HttpsServer, AnswersConcurrentClientsOnSeveralThreads) {
  auto server = serve_tls([](auto& o) { o.threads = 2; });
  ASSERT_TRUE(server);
  std::atomic<int> correct{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&, i] {
      tls_client c{server->port(), trust_};
      for (int j = 0; j < 10; ++j) {
        auto target = "/" + std::to_string(i) + "/" + std::to_string(j);
        auto res = c.exchange(get(target));
        if (res && res->body() == "GET " + target + " ") ++correct;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(correct.load(), 4 * 10);
}

TEST_F(HttpsServer, RefusesToStartWithAnUnusableCertificateOrKeyNamingTheFile) {
  auto other = make_test_cert(dir_, "other");
  auto garbage = (dir_ / "garbage.pem").string();
  std::ofstream{garbage} << "not a certificate\n";
  auto missing = (dir_ / "missing.pem").string();
  struct bad_case {
    net::tls_settings tls;
    std::vector<std::string> expect;
  };
  const bad_case cases[] = {
      {{missing, cert_.key_file}, {missing, "No such file or directory"}},
      {{cert_.cert_file, missing}, {missing, "No such file or directory"}},
      {{garbage, cert_.key_file}, {garbage, "no start line"}},
      {{cert_.cert_file, garbage}, {garbage, "private key"}},
      {{cert_.cert_file, other.key_file}, {other.key_file, "does not match", "mismatch"}},
      {{"", cert_.key_file}, {"without a certificate"}},
  };
  for (const auto& c : cases) {
    auto why = start_error(c.tls);
    ASSERT_FALSE(why.empty()) << c.tls.cert_file << " " << c.tls.key_file;

    for (const auto& part : c.expect) EXPECT_NE(why.find(part), std::string::npos) << why;
  }
}

}  // namespace

}  // namespace ab::testing
