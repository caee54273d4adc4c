// The HTTP server over TLS, with a certificate made for each test.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>

#include "core/error.hpp"
#include "net/http/detail/tls_context.hpp"
#include "net/http/server.hpp"
#include "tests/fakes/test_cert.hpp"
#include "tests/net/http/http_test_support.hpp"

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

TEST_F(HttpsServer, DropsAClientThatNeverStartsTheHandshakeAfterTheFirstByteTimeout) {
  auto server = serve_tls([](auto& o) {
    o.read_timeout = std::chrono::minutes(5);
    o.first_byte_timeout = std::chrono::milliseconds(200);
  });
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

TEST_F(HttpsServer, Answers503WhenEveryConnectionIsBusy) {
  parking lot;
  auto server = serve_tls([](auto& o) { o.max_connections = 1; }, lot.handler());
  ASSERT_TRUE(server);
  tls_client holder{server->port(), trust_};
  ASSERT_TRUE(holder.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = lot.take();
  ASSERT_TRUE(held);
  tls_client extra{server->port(), trust_};
  auto res = extra.exchange(get("/"));
  EXPECT_EQ(status(res), 503);
  EXPECT_EQ((*res)[http::field::retry_after], "1");
  EXPECT_TRUE(extra.closed_by_server());
  held({200, "text/plain", "done", {}});
  EXPECT_EQ(status(holder.receive()), 200);
}

TEST_F(HttpsServer, EvictsAnIdleConnectionAtTheCap) {
  auto server = serve_tls([](auto& o) { o.max_connections = 1; });
  ASSERT_TRUE(server);
  tls_client idle{server->port(), trust_};
  ASSERT_EQ(status(idle.exchange(get("/"))), 200);
  tls_client next{server->port(), trust_};
  EXPECT_EQ(status(next.exchange(get("/"))), 200);
  EXPECT_TRUE(idle.closed_by_server());
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

TEST_F(HttpsServer, RefusesToStartWithAPrivateKeyThatOthersCanRead) {
  namespace fs = std::filesystem;
  for (auto extra : {fs::perms::others_read, fs::perms::group_read}) {
    fs::permissions(cert_.key_file, fs::perms::owner_read | fs::perms::owner_write | extra);
    auto why = start_error({cert_.cert_file, cert_.key_file});
    EXPECT_NE(why.find(cert_.key_file), std::string::npos) << why;
    EXPECT_NE(why.find("chmod 600"), std::string::npos) << why;
  }
  fs::permissions(cert_.key_file, fs::perms::owner_read);
  EXPECT_EQ(start_error({cert_.cert_file, cert_.key_file}), "");
}

/// A client context that trusts `cert` only.
std::unique_ptr<asio::ssl::context> trusting(const test_cert& cert) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->load_verify_file(cert.cert_file);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

/// Moves the pair `from` over the files of `to`, each file replaced at once (by rename).
void replace_pair(const test_cert& from, const test_cert& to) {
  std::filesystem::rename(from.key_file, to.key_file);
  std::filesystem::rename(from.cert_file, to.cert_file);
}

TEST_F(HttpsServer, ServesTheReloadedCertificateToNewConnectionsAndKeepsOldOnes) {
  auto server = serve_tls([](auto& o) { o.tls.check_interval = std::chrono::milliseconds(0); });
  ASSERT_TRUE(server);
  tls_client before{server->port(), trust_};
  ASSERT_FALSE(before.handshake_error());
  auto next = make_test_cert(dir_, "next");
  auto trust_next = trusting(next);
  replace_pair(next, cert_);
  ASSERT_FALSE(server->reload_tls()) << "reload";
  tls_client after{server->port(), *trust_next};
  EXPECT_FALSE(after.handshake_error()) << after.handshake_error().message();
  EXPECT_EQ(status(after.exchange(get("/new"))), 200);
  EXPECT_EQ(status(before.exchange(get("/old"))), 200);
  tls_client old_trust{server->port(), trust_};
  EXPECT_TRUE(old_trust.handshake_error());
}

TEST_F(HttpsServer, KeepsTheCertificateInUseWhenTheNewPairIsBad) {
  auto server = serve_tls([](auto& o) { o.tls.check_interval = std::chrono::milliseconds(0); });
  ASSERT_TRUE(server);
  // A certificate that does not match the key.
  auto other = make_test_cert(dir_, "other");
  std::filesystem::rename(other.cert_file, cert_.cert_file);
  auto err = server->reload_tls();
  ASSERT_TRUE(err);
  EXPECT_TRUE(is(err, errc::bad_config));
  tls_client c{server->port(), trust_};
  EXPECT_FALSE(c.handshake_error()) << c.handshake_error().message();
  EXPECT_EQ(status(c.exchange(get("/"))), 200);
}

TEST_F(HttpsServer, ReloadsTheCertificateWhenItsFilesChange) {
  auto server = serve_tls([](auto& o) { o.tls.check_interval = std::chrono::milliseconds(20); });
  ASSERT_TRUE(server);
  auto next = make_test_cert(dir_, "next");
  auto trust_next = trusting(next);
  replace_pair(next, cert_);
  auto deadline = std::chrono::steady_clock::now() + patience;
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    tls_client c{server->port(), *trust_next};
    served = !c.handshake_error() && status(c.exchange(get("/"))) == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

/// A client context offering TLS 1.2 only, with the OpenSSL cipher list `ciphers`.
std::unique_ptr<asio::ssl::context> tls12_offering(const test_cert& cert, const char* ciphers) {
  auto ctx = trusting(cert);
  SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_set_cipher_list(ctx->native_handle(), ciphers), 1) << ciphers;
  return ctx;
}

TEST_F(HttpsServer, RefusesTls12SuitesWithoutForwardSecrecyOrAead) {
  auto server = serve_tls();
  ASSERT_TRUE(server);
  for (const char* refused :
       {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256"}) {
    auto ctx = tls12_offering(cert_, refused);
    tls_client c{server->port(), *ctx};
    EXPECT_TRUE(c.handshake_error()) << refused;
  }
  for (const char* accepted : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    auto ctx = tls12_offering(cert_, accepted);
    tls_client c{server->port(), *ctx};
    EXPECT_FALSE(c.handshake_error()) << accepted << ": " << c.handshake_error().message();
  }
}

TEST_F(HttpsServer, OffersOnlyEcdheAeadSuitesBelowTls13) {
  auto ctx = net::detail::make_tls_context({cert_.cert_file, cert_.key_file});
  ASSERT_TRUE(ctx) << message_of(ctx.error());
  auto* suites = SSL_CTX_get_ciphers((*ctx)->native_handle());
  ASSERT_NE(suites, nullptr);
  int below13 = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(suites); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(suites, i);
    if (std::string{SSL_CIPHER_get_version(c)} == "TLSv1.3") continue;
    ++below13;
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe) << SSL_CIPHER_get_name(c);
    EXPECT_EQ(SSL_CIPHER_is_aead(c), 1) << SSL_CIPHER_get_name(c);
  }
  EXPECT_GT(below13, 0);
}

TEST_F(HttpsServer, WarnsAboutACertificateOutsideOrNearTheEndOfItsValidity) {
  auto warning = [&](long from, long until, std::chrono::hours window) {
    auto name = "v" + std::to_string(from) + "_" + std::to_string(until);
    auto cert = make_test_cert(dir_, name, from, until);
    auto ctx = net::detail::make_tls_context({cert.cert_file, cert.key_file});
    EXPECT_TRUE(ctx);
    return ctx ? net::detail::validity_warning(**ctx, std::time(nullptr), window) : std::nullopt;
  };
  const std::chrono::hours month{30 * 24};
  auto expired = warning(-7200, -3600, month);
  ASSERT_TRUE(expired);
  EXPECT_NE(expired->find("expired"), std::string::npos) << *expired;
  auto early = warning(3600, 7200, month);
  ASSERT_TRUE(early);
  EXPECT_NE(early->find("not valid yet"), std::string::npos) << *early;
  auto soon = warning(-60, 24 * 3600, month);
  ASSERT_TRUE(soon);
  EXPECT_NE(soon->find("expires soon"), std::string::npos) << *soon;
  EXPECT_FALSE(warning(-60, 24 * 3600, std::chrono::hours(1)));
}

}  // namespace

}  // namespace ab::testing
