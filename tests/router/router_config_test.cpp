// ab-router's options: defaults, file then flags, and errors that name the key.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "router/router_config.hpp"
#include "tests/fakes/scratch_dir.hpp"

namespace ab::testing {
namespace {

caf::expected<router::router_config> load(const std::vector<std::string>& args) {
  auto cl = router::parse_router_command_line(args);
  if (!cl) return cl.error();
  return router::load_router_config(*cl);
}

TEST(RouterConfig, FlagsOverTheFileOverTheDefaults) {
  auto dir = scratch_dir("ab_router_cfg_");
  {
    std::ofstream{dir / "router.json"} << R"({"heartbeat_secret_file": "/etc/hb.secret",
        "freshness_ms": 60000, "hostname_rules": [{"pattern": "lab-.*", "site": "lab1"}]})";
  }
  auto c = load({"--config", (dir / "router.json").string(), "--freshness-ms", "5000",
                 "--hostname-rule", "[a-z]+-(dc[0-9]+)-.*"});
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->freshness_ms, 5000);
  EXPECT_EQ(c->heartbeat_secret_file, "/etc/hb.secret");
  ASSERT_EQ(c->hostname_rules.size(), 2u);
  EXPECT_EQ(c->hostname_rules[0].site, "") << "the capture-group rule comes first";
  EXPECT_EQ(c->hostname_rules[1].site, "lab1");
  EXPECT_EQ(c->max_in_flight, 4096u);
  EXPECT_EQ(c->listen, "127.0.0.1:8090");
}

TEST(RouterConfig, ErrorsNameTheKeyAndWhatWasExpected) {
  auto missing = load({});
  ASSERT_FALSE(missing);
  EXPECT_NE(message_of(missing.error()).find("heartbeat-secret-file"), std::string::npos);
  auto bad_number = load({"--heartbeat-secret-file", "x", "--freshness-ms", "soon"});
  ASSERT_FALSE(bad_number);
  EXPECT_NE(message_of(bad_number.error()).find("--freshness-ms"), std::string::npos);
  EXPECT_FALSE(load({"--frobnicate", "1"}));
  EXPECT_FALSE(load({"--heartbeat-secret-file", "x", "--tls-cert", "c.pem"}));
  auto bad_rule = load({"--heartbeat-secret-file", "x", "--hostname-rule", "no-group"});
  ASSERT_FALSE(bad_rule);
  EXPECT_NE(message_of(bad_rule.error()).find("capture group"), std::string::npos);
}

TEST(RouterConfig, TrustedProxiesAreIpsOrCidrsFromAnArrayOrCommaSeparatedText) {
  auto dir = scratch_dir("ab_router_cfg_");
  {
    std::ofstream{dir / "router.json"} << R"({"heartbeat_secret_file": "/etc/hb.secret",
        "trusted_proxies": ["10.0.0.0/24", "2001:db8::1"], "max_in_flight_per_client": 9})";
  }
  auto file = load({"--config", (dir / "router.json").string()});
  ASSERT_TRUE(file) << message_of(file.error());
  EXPECT_EQ(file->trusted_proxies, (std::vector<std::string>{"10.0.0.0/24", "2001:db8::1"}));
  EXPECT_EQ(file->max_in_flight_per_client, 9u);
  auto flags = load({"--heartbeat-secret-file", "x", "--trusted-proxies", "127.0.0.1,10.1.0.0/16"});
  ASSERT_TRUE(flags) << message_of(flags.error());
  EXPECT_EQ(flags->trusted_proxies, (std::vector<std::string>{"127.0.0.1", "10.1.0.0/16"}));
  EXPECT_TRUE(load({"--heartbeat-secret-file", "x"})->trusted_proxies.empty());
  auto bad = load({"--heartbeat-secret-file", "x", "--trusted-proxies", "10.0.0.0/33"});
  ASSERT_FALSE(bad);
  EXPECT_NE(message_of(bad.error()).find("--trusted-proxies"), std::string::npos);
  EXPECT_NE(message_of(bad.error()).find("10.0.0.0/33"), std::string::npos);
}

}  // namespace
}  // namespace ab::testing
