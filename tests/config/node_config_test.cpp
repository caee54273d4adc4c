#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "config/node_config.hpp"
#include "core/error.hpp"

namespace ab::testing {

using config::load_node_config;
using config::parse_command_line;

namespace {

caf::expected<config::node_config> load(const std::vector<std::string>& args) {
  auto cl = parse_command_line(args);
  if (!cl) return cl.error();
  return load_node_config(*cl);
}

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/ab_config_XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream{name} << text;
  return name;
}

}  // namespace

TEST(NodeConfig, NoArgumentsGiveTheEmbeddedDefaults) {
  auto c = load({});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->store, "sqlite:var/autobuild.db");
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  EXPECT_FALSE(c->node_id.empty());
}

TEST(NodeConfig, TheSampleFileIsValid) {
  // A copy, private as a file holding a database password must be.
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/config/node.sample.json"};
  std::stringstream text;
  text << in.rdbuf();
  auto file = write_temp(text.str());
  auto c = load({"--config", file});
  std::remove(file.c_str());
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->node_id, "node-a1");
  EXPECT_EQ(c->workers.at("power_on"), 4);
  EXPECT_EQ(c->queue.class_credit_ms.at("maas"), 1800000);
}

TEST(NodeConfig, TakesACertificateAndKeyTogether) {
  auto c = load({"--tls-cert", "/etc/ab/node.crt", "--tls-key=/etc/ab/node.key"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->tls_cert, "/etc/ab/node.crt");
  EXPECT_EQ(c->tls_key, "/etc/ab/node.key");
}

TEST(NodeConfig, TakesConnectionLimitsAndTimeouts) {
  auto c = load({"--max-connections", "100", "--max-connections-per-peer", "8",
                 "--first-byte-timeout-ms", "2000", "--idle-timeout-ms", "9000",
                 "--tls-check-interval-ms", "0"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->max_connections, 100u);
  EXPECT_EQ(c->max_connections_per_peer, 8u);
  EXPECT_EQ(c->first_byte_timeout_ms, 2000);
  EXPECT_EQ(c->idle_timeout_ms, 9000);
  EXPECT_EQ(c->tls_check_interval_ms, 0);
  EXPECT_FALSE(load({"--max-connections-per-peer", "0"}));
}

TEST(NodeConfig, CommandLineOverridesTheFile) {
  auto file = write_temp(R"({"site": "dc1", "listen": "127.0.0.1:9000", "lease_ms": 20000})");
  auto c = load(
      {"--config", file, "--listen", "0.0.0.0:0", "--site=dc9", "--workers", R"({"power_on": 7})"});
  std::remove(file.c_str());
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->listen, "0.0.0.0:0");
  EXPECT_EQ(c->site, "dc9");
  EXPECT_EQ(c->lease_ms, 20000);
  EXPECT_EQ(c->workers.at("power_on"), 7);
  EXPECT_EQ(c->workers.at("default"), 2);
}

TEST(NodeConfig, BadInputNamesTheSourceTheKeyAndWhatWasExpected) {
  auto file = write_temp(R"({"lease_ms": "long"})");
  struct bad_case {
    std::vector<std::string> args;
    const char* expect;
  };
  const bad_case cases[] = {
      {{"--frobnicate", "1"}, "unknown option --frobnicate"},
      {{"--site"}, "needs a value"},
      {{"stray"}, "unexpected argument"},
      {{"--config", "/nonexistent.json"}, "/nonexistent.json: cannot be read"},
      {{"--config", file}, "lease_ms"},
      {{"--lease-ms", "abc"}, "command line: --lease-ms"},
      {{"--claim-batch", "0"}, "from 1 to 256"},
      {{"--listen", "nohost"}, "HOST:PORT"},
      {{"--listen", "h:99999"}, "0 to 65535"},
      {{"--handlers", "magic"}, "bmc, simulated, none"},
      {{"--store", "postgres://x"}, "sqlite:PATH"},
      {{"--lease-ms", "1000", "--renew-interval-ms", "900"}, "at most half"},
      {{"--workers", "[1]"}, "job type"},
      {{"--tls-cert", "/etc/ab/node.crt"}, "tls-cert: /etc/ab/node.crt: given without tls-key"},
      {{"--tls-key", "/etc/ab/node.key"}, "tls-key: /etc/ab/node.key: given without tls-cert"},
  };
  for (const auto& c : cases) {
    auto r = load(c.args);
    ASSERT_FALSE(r) << c.args[0];
    EXPECT_TRUE(is(r.error(), errc::bad_config));
    auto msg = message_of(r.error());
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
  std::remove(file.c_str());
}

TEST(NodeConfig, HelpListsEveryOption) {
  auto text = config::usage();
  for (const auto* opt :
       {"--config", "--listen", "--store", "--site", "--node-id", "--workers", "--lease-ms",
        "--cluster-map", "--drain-timeout-ms", "--tls-cert", "--tls-key", "--credentials-dir",
        "--credential-env-prefix", "--bmc-networks", "--bmc-allow-loopback"})
    EXPECT_NE(text.find(opt), std::string::npos) << opt;
  auto cl = parse_command_line({"--help"});
  ASSERT_TRUE(cl);
  EXPECT_TRUE(cl->help);
}

TEST(NodeConfig, SplitsHostAndPort) {
  auto hp = config::split_host_port("127.0.0.1:0");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_EQ(hp->second, 0);
}

TEST(NodeConfig, AFileHoldingTheDatabasePasswordMustBePrivate) {
  // mkstemp makes the file 0600.
  auto file = write_temp(R"({"store": "mysql://ab:s3cret@127.0.0.1:3306/ab"})");
  EXPECT_TRUE(load({"--config", file})) << "a private file may hold the password";
  ::chmod(file.c_str(), 0644);
  auto open = load({"--config", file});
  ASSERT_FALSE(open);
  EXPECT_NE(message_of(open.error()).find(file), std::string::npos) << message_of(open.error());
  EXPECT_EQ(message_of(open.error()).find("s3cret"), std::string::npos);
  std::ofstream(file) << R"({"store": "mysql://ab@127.0.0.1:3306/ab", "site": "dc1"})";
  EXPECT_TRUE(load({"--config", file})) << "no password, no secret";
  std::remove(file.c_str());
}

}  // namespace ab::testing
