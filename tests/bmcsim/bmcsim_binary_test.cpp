// ab-bmcsim run as a process.

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/test_cert.hpp"
#include "tests/net/http/http_test_support.hpp"

namespace {

/// A fresh log path (an old log would show an old port before the process truncates it).
std::string fresh_log(const std::string& name) {
  auto log = ::testing::TempDir() + name + "-" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  return log;
}

TEST(AbBmcsim, StartsAnswersAndStopsOnSigterm) {
  ab::harness::server_process p(AB_BMCSIM_BIN, {"--port", "0", "--hosts", "3", "--time-scale", "0"},
                                fresh_log("ab-bmcsim"));
  ASSERT_TRUE(p.ok()) << p.output();
  auto a = ab::testing::http_call(p.port(), "GET", "/bmc/sim-0002/redfish/v1/");
  EXPECT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("/bmc/sim-0002/redfish/v1/Systems"), std::string::npos);
  EXPECT_NE(ab::testing::http_call(p.port(), "GET", "/sim/bmcs").body.find("3"), std::string::npos);
  EXPECT_EQ(p.terminate(10), 0);
}

TEST(AbBmcsim, ServesHttpsWithTheGivenCertificate) {
  namespace asio = boost::asio;
  auto dir =
      std::filesystem::path(::testing::TempDir()) / ("ab_bmcsim_tls_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto cert = ab::testing::make_test_cert(dir);
  ab::harness::server_process p(
      AB_BMCSIM_BIN, {"--port", "0", "--tls-cert", cert.cert_file, "--tls-key", cert.key_file},
      fresh_log("ab-bmcsim-tls"));
  ASSERT_TRUE(p.ok()) << p.output();
  EXPECT_NE(p.output().find("https://"), std::string::npos);
  asio::ssl::context trust{asio::ssl::context::tls_client};
  trust.load_verify_file(cert.cert_file);
  trust.set_verify_mode(asio::ssl::verify_peer);
  ab::testing::tls_client c{static_cast<std::uint16_t>(p.port()), trust};
  ASSERT_FALSE(c.handshake_error()) << c.handshake_error().message();
  auto res = c.exchange(ab::testing::get("/bmc/h1/redfish/v1/"));
  EXPECT_EQ(ab::testing::status(res), 200);
  EXPECT_EQ(p.terminate(10), 0);
  std::filesystem::remove_all(dir);
}

TEST(AbBmcsim, RefusesABadOption) {
  ab::harness::server_process p(AB_BMCSIM_BIN, {"--fault", "error_rate=7"},
                                fresh_log("ab-bmcsim-bad"));
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.output().find("error_rate"), std::string::npos) << p.output();
}

}  // namespace
