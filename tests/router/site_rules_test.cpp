// Site resolution without a network: hostname rules, the site part of request ids, the
// host → site cache.

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "router/site_rules.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace ab::testing {
namespace {

TEST(HostnameRules, ACaptureGroupNamesTheSiteAndPairsNameItOutright) {
  auto rules = router::hostname_rules::make(
      {{"[a-z0-9]+-(dc[0-9]+)-[0-9]+", ""}, {"lab-.*", "lab1"}, {"(UPPER)-.*", ""}});
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->site_of("web-dc2-01"), "dc2");
  EXPECT_EQ(rules->site_of("lab-x"), "lab1");
  EXPECT_EQ(rules->site_of("web-dc2-01.example"), std::nullopt) << "the whole name must match";
  EXPECT_EQ(rules->site_of("UPPER-1"), std::nullopt) << "a capture that is no site name";
  EXPECT_EQ(rules->site_of("other"), std::nullopt);
}

TEST(HostnameRules, ABadRuleIsRefusedWithItsNumber) {
  auto bad_regex = router::hostname_rules::make({{"(", ""}});
  ASSERT_FALSE(bad_regex);
  EXPECT_NE(message_of(bad_regex.error()).find("hostname rule 1"), std::string::npos);
  EXPECT_FALSE(router::hostname_rules::make({{"no-group", ""}}));
  EXPECT_FALSE(router::hostname_rules::make({{"x", "Not A Site"}}));
}

TEST(RequestIds, TheSiteIdIsTheIdOverTenToTheTwelve) {
  EXPECT_EQ(router::site_id_of_request("42"), 0);
  EXPECT_EQ(router::site_id_of_request("7000000000042"), 7);
  EXPECT_EQ(router::site_id_of_request("9000000000000001"), 9000);
  EXPECT_EQ(router::site_id_of_request(""), std::nullopt);
  EXPECT_EQ(router::site_id_of_request("-1"), std::nullopt);
  EXPECT_EQ(router::site_id_of_request("12a"), std::nullopt);
  EXPECT_EQ(router::site_id_of_request("1234567890123456789"), std::nullopt);
}

TEST(SiteCache, KeepsWhatTheInventorySaidForItsTtlOnly) {
  auto clock = std::make_shared<manual_clock>();
  router::site_cache cache{1000, 2, clock};
  EXPECT_EQ(cache.find("h1"), std::nullopt);
  cache.put("h1", "dc1");
  EXPECT_EQ(cache.find("h1"), "dc1");
  clock->advance(1001);
  EXPECT_EQ(cache.find("h1"), std::nullopt);
  cache.put("h1", "dc1");
  cache.drop("h1");
  EXPECT_EQ(cache.find("h1"), std::nullopt);
  // Full: it makes room rather than growing.
  cache.put("a", "dc1");
  cache.put("b", "dc1");
  cache.put("c", "dc2");
  EXPECT_EQ(cache.find("c"), "dc2");
}

}  // namespace
}  // namespace ab::testing
