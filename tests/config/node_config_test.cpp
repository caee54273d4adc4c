#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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

TEST(NodeConfig, TakesTheRedfishSessionLimits) {
  auto c = load({});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->bmc_session_idle_ms, 60000);
  EXPECT_EQ(c->bmc_max_sessions, 1024);
  c = load({"--bmc-session-idle-ms", "20000", "--bmc-max-sessions", "16"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->bmc_session_idle_ms, 20000);
  EXPECT_EQ(c->bmc_max_sessions, 16);
  for (const auto& [key, bad] : std::vector<std::pair<std::string, std::string>>{
           {"--bmc-session-idle-ms", "10"}, {"--bmc-max-sessions", "0"}}) {
    auto r = load({key, bad});
    ASSERT_FALSE(r) << key;
    EXPECT_TRUE(is(r.error(), errc::bad_config));
    EXPECT_NE(message_of(r.error()).find(key.substr(2)), std::string::npos)
        << message_of(r.error());
  }
}

TEST(NodeConfig, TakesThePacingLimitsWithSensibleDefaults) {
  auto c = load({});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->queue.pacing.per_rack, 4);
  EXPECT_EQ(c->queue.pacing.power_ons_per_second, 20);
  c = load({"--pacing-per-rack", "2", "--pacing-per-site", "100", "--pacing-power-ons-per-second",
            "0", "--pacing-actions", "wipe,reimage"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->queue.pacing.per_rack, 2);
  EXPECT_EQ(c->queue.pacing.per_site, 100);
  EXPECT_EQ(c->queue.pacing.power_ons_per_second, 0);
  EXPECT_EQ(c->queue.pacing.actions, (std::vector<std::string>{"wipe", "reimage"}));
  auto r = load({"--pacing-per-power-domain", "100001"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is(r.error(), errc::bad_config));
  EXPECT_NE(message_of(r.error()).find("pacing-per-power-domain"), std::string::npos);
}

TEST(NodeConfig, TheLdapExamplesOfTheDocsAreValidOptions) {
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/docs/ldap.md"};
  ASSERT_TRUE(in);
  std::string line, block;
  bool inside = false;
  int checked = 0;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line == "```json";
      block.clear();
      continue;
    }
    if (line != "```") {
      block += line + "\n";
      continue;
    }
    inside = false;
    if (block.rfind("\"ldap\":", 0) != 0) continue;
    auto doc = nlohmann::json::parse("{" + block + "}", nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << block;
    // The CA file must be readable where the node runs: here a file of the test's own.
    auto ca = write_temp("-----BEGIN CERTIFICATE-----\n");
    if (doc["ldap"].contains("ca_file")) doc["ldap"]["ca_file"] = ca;
    auto c = load({"--policy", "/etc/autobuild/policy.json", "--ldap", doc["ldap"].dump()});
    std::remove(ca.c_str());
    EXPECT_TRUE(c) << block << (c ? "" : message_of(c.error()));
    ++checked;
  }
  EXPECT_GE(checked, 3) << "docs/ldap.md shows its examples as \"ldap\" blocks";
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

TEST(NodeConfig, TakesTheApiAdmissionLimits) {
  auto d = load({});
  ASSERT_TRUE(d) << message_of(d.error());
  EXPECT_EQ(d->api_calls_per_store_actor, 64u);
  auto c = load({"--api-calls-per-store-actor", "0", "--api-max-in-flight", "500"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->api_calls_per_store_actor, 0u);
  EXPECT_EQ(c->api_max_in_flight, 500u);
  EXPECT_FALSE(load({"--api-calls-per-store-actor", "-1"}));
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

}  // namespace ab::testing

namespace ab::testing {
namespace {

TEST(NodeConfig, ANumberOutOfRangeInTheFileIsAnErrorNotACrash) {
  auto file = write_temp(R"({"lease_ms": 1e999})");
  auto c = load({"--config", file});
  std::remove(file.c_str());
  ASSERT_FALSE(c);
  EXPECT_TRUE(is(c.error(), errc::bad_config));
}

TEST(NodeConfig, DirectoryLoginsAreCheckedAndNeedAPolicy) {
  auto c = load(
      {"--ldap",
       R"({"url": "ldap://127.0.0.1:389", "bind_template": "uid={user},dc=x", "allow_plaintext": true})"});
  ASSERT_FALSE(c);
  EXPECT_NE(message_of(c.error()).find("need a policy"), std::string::npos)
      << message_of(c.error());
  c = load(
      {"--policy", "/p.json", "--ldap",
       R"({"url": "ldap://127.0.0.1:389", "bind_template": "uid={user},dc=x", "allow_plaintext": true, "network_timeout_ms": 500})"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->ldap.network_timeout, std::chrono::milliseconds{500});
  EXPECT_TRUE(c->ldap.allow_plaintext);
  for (const std::string bad :
       {R"({"url": "ldap://h", "bind_template": "uid={user},dc=x"})", R"({"url": 1})",
        R"({"uri": "ldap://h"})", R"({"url": "ldap://h", "start_tls": "yes"})"}) {
    auto r = load({"--policy", "/p.json", "--ldap", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(message_of(r.error()).find("--ldap"), std::string::npos) << message_of(r.error());
  }
}

}  // namespace
}  // namespace ab::testing

namespace ab::testing {

TEST(NodeConfig, BmcCredentialsAndEndpointRulesHaveSafeDefaults) {
  auto c = load({});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->credentials_dir, "var/credentials");
  EXPECT_EQ(c->credential_env_prefix, "AB_BMC_");
  EXPECT_TRUE(c->bmc_networks.empty());
  EXPECT_FALSE(c->bmc_allow_loopback);
  auto beside = load({"--store", "sqlite:/srv/ab/node.db"});
  ASSERT_TRUE(beside);
  EXPECT_EQ(beside->credentials_dir, "/srv/ab/credentials");
  auto mysql = load({"--store", "mysql://u:p@127.0.0.1:3306/ab"});
  ASSERT_TRUE(mysql);
  EXPECT_EQ(mysql->credentials_dir, "var/credentials");
}

TEST(NodeConfig, ReadsTheBmcRulesFromTheFileAndTheCommandLine) {
  auto file = write_temp(
      R"({"bmc_networks": ["10.20.0.0/16", "*.bmc.dc1"], "credential_env_prefix": "DC1_BMC_"})");
  auto c = load({"--config", file, "--bmc-allow-loopback", "1", "--credentials-dir", "/etc/ab/c"});
  std::remove(file.c_str());
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->bmc_networks, (std::vector<std::string>{"10.20.0.0/16", "*.bmc.dc1"}));
  EXPECT_EQ(c->credential_env_prefix, "DC1_BMC_");
  EXPECT_TRUE(c->bmc_allow_loopback);
  EXPECT_EQ(c->credentials_dir, "/etc/ab/c");
  auto listed = load({"--bmc-networks", "10.0.0.0/8,fd00::/8"});
  ASSERT_TRUE(listed) << message_of(listed.error());
  EXPECT_EQ(listed->bmc_networks.size(), 2u);
}

TEST(NodeConfig, RefusesBadBmcRules) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--bmc-networks", "10.0.0.0/40"},
                                             {"--bmc-networks", "not a network"},
                                             {"--credential-env-prefix", "lower_"},
                                             {"--credential-env-prefix", "A=B"},
                                             {"--bmc-allow-loopback", "2"}}) {
    auto c = load(args);
    ASSERT_FALSE(c) << args[0] << " " << args[1];
    EXPECT_NE(message_of(c.error()).find(args[0]), std::string::npos) << message_of(c.error());
  }
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

// Sites and routers.

TEST(NodeConfig, RoutersAndSitesHaveQuietDefaults) {
  auto c = load({});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->site_id, 0);
  EXPECT_TRUE(c->routers.empty());
  EXPECT_TRUE(c->trusted_routers.empty());
  EXPECT_EQ(c->router_heartbeat_interval_ms, 30000);
}

TEST(NodeConfig, ReadsRoutersFromTheFileAndTheCommandLine) {
  auto file =
      write_temp(R"({"site_id": 12, "routers": ["https://r1.example:9443", "http://r2:9080"],
    "heartbeat_secret_file": "/etc/ab/hb.secret", "trusted_routers": ["10.9.0.0/16", "10.8.0.1"],
    "advertise_url": "https://node-a1.example:8443", "router_heartbeat_interval_ms": 5000,
    "router_ca_file": "/etc/ab/ca.pem"})");
  auto c = load({"--config", file});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->site_id, 12);
  EXPECT_EQ(c->routers, (std::vector<std::string>{"https://r1.example:9443", "http://r2:9080"}));
  EXPECT_EQ(c->trusted_routers, (std::vector<std::string>{"10.9.0.0/16", "10.8.0.1"}));
  EXPECT_EQ(c->advertise_url, "https://node-a1.example:8443");
  EXPECT_EQ(c->router_heartbeat_interval_ms, 5000);
  EXPECT_EQ(c->router_ca_file, "/etc/ab/ca.pem");
  auto cl = load({"--config", file, "--routers", "http://127.0.0.1:9001,http://127.0.0.1:9002",
                  "--trusted-routers", "127.0.0.1"});
  ASSERT_TRUE(cl) << message_of(cl.error());
  EXPECT_EQ(cl->routers.size(), 2u);
  EXPECT_EQ(cl->trusted_routers, std::vector<std::string>{"127.0.0.1"});
  std::remove(file.c_str());
}

TEST(NodeConfig, RefusesBadRouterSettings) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--site-id", "9001"},
           {"--site-id", "-1"},
           {"--routers", "r1.example:9443", "--heartbeat-secret-file", "/x"},
           {"--routers", "ftp://r1", "--heartbeat-secret-file", "/x"},
           {"--routers", "http://r1:9080"},
           {"--trusted-routers", "10.0.0.0/33"},
           {"--trusted-routers", "router.example"},
           {"--advertise-url", "node-a1:8443"},
           {"--router-heartbeat-interval-ms", "0"},
       }) {
    auto c = load(args);
    ASSERT_FALSE(c) << args[0] << " " << args[1];
    EXPECT_TRUE(is(c.error(), errc::bad_config));
  }
  auto c = load({"--routers", "http://r1:9080"});
  ASSERT_FALSE(c);
  EXPECT_NE(message_of(c.error()).find("heartbeat-secret-file"), std::string::npos);
}

}  // namespace ab::testing
