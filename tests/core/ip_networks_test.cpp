#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/ip_networks.hpp"

namespace ab::testing {

TEST(IpNetworks, MatchAddressesInsideTheirPrefixesOnly) {
  auto n = ip_networks::parse({"10.1.0.0/16", "192.0.2.7", "2001:db8:1::/48", "172.16.0.0/12"});
  ASSERT_TRUE(n) << message_of(n.error());
  EXPECT_TRUE(n->contains("10.1.255.3"));
  EXPECT_FALSE(n->contains("10.2.0.1"));
  EXPECT_TRUE(n->contains("192.0.2.7"));
  EXPECT_FALSE(n->contains("192.0.2.8"));
  EXPECT_TRUE(n->contains("172.31.255.255"));
  EXPECT_FALSE(n->contains("172.32.0.0"));
  EXPECT_TRUE(n->contains("2001:db8:1:ffff::1"));
  EXPECT_FALSE(n->contains("2001:db8:2::1"));
}

TEST(IpNetworks, AnIpv4MappedAddressIsItsIpv4Address) {
  auto n = ip_networks::parse({"10.1.0.0/16"});
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains("::ffff:10.1.2.3"));
  auto mapped = ip_networks::parse({"::ffff:10.1.2.3"});
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->contains("10.1.2.3"));
}

TEST(IpNetworks, NothingIsInsideAnEmptySetAndGarbageIsInsideNothing) {
  auto none = ip_networks::parse({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(none->contains("127.0.0.1"));
  auto all = ip_networks::parse({"0.0.0.0/0", "::/0"});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains("203.0.113.9"));
  EXPECT_TRUE(all->contains("::1"));
  EXPECT_FALSE(all->contains("router.example"));
  EXPECT_FALSE(all->contains(""));
  EXPECT_FALSE(all->contains("10.0.0.1:80"));
}

TEST(IpNetworks, RefusesWhatIsNotAnAddressOrCidr) {
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/8x",
                          "10.0.0.0/-1", "router.example", "", "10.0.0.256", "10.0.0.0/08/1"}) {
    auto n = ip_networks::parse({bad});
    ASSERT_FALSE(n) << bad;
    EXPECT_TRUE(is(n.error(), errc::bad_config));
  }
}

}  // namespace ab::testing
