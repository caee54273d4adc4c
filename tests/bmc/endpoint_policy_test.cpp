// The BMC endpoint policy: syntax, schemes, networks, refused addresses.

#include "bmc/endpoint_policy.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace ab::bmc {
namespace {

std::shared_ptr<const endpoint_policy> policy(std::vector<std::string> networks = {},
                                              bool allow_loopback = false) {
  endpoint_options o;
  o.networks = std::move(networks);
  o.allow_loopback = allow_loopback;
  auto p = endpoint_policy::make(o);
  EXPECT_TRUE(p) << message_of(p.error());
  return p ? *p : nullptr;
}

sockaddr_storage v4(const char* text) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  ::inet_pton(AF_INET, text, &in->sin_addr);
  return s;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in6*>(&s);
  in->sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, text, &in->sin6_addr);
  return s;
}

const sockaddr* sa(const sockaddr_storage& s) {
  return reinterpret_cast<const sockaddr*>(&s);
}

TEST(EndpointPolicy, AcceptsTheSchemesADriverServes) {
  auto p = policy();
  for (const auto* e : {"https://10.0.0.1", "http://10.0.0.1:8000/bmc/h1", "ipmi://10.0.0.2:623",
                        "ipmi://10.0.0.2", "https://[2001:db8::1]:443", "https://bmc-r1-01.dc1"})
    EXPECT_FALSE(p->check(e)) << e << ": " << message_of(p->check(e));
}

TEST(EndpointPolicy, RefusesWhitespaceControlCharactersAndOtherSchemes) {
  auto p = policy();
  for (const std::string& e :
       {std::string{"https://10.0.0.1\r\nHost: evil"}, std::string{"https://10.0.0.1/a b"},
        std::string{"https://10.0.0.1\t"}, std::string{"https://10.0.0.1/\x01"},
        std::string{"ftp://10.0.0.1"}, std::string{"file:///etc/passwd"},
        std::string{"gopher://10.0.0.1"}, std::string{"HTTPS://10.0.0.1"},
        std::string{"telnet://x"}, std::string{"10.0.0.1"}, std::string{"https://"},
        std::string{"https://user:pw@10.0.0.1"}, std::string{"https://10.0.0.1:99999"},
        std::string{"https://10.0.0.1:"}, std::string{"https://BMC1"}, std::string{"https://b1/"},
        std::string{"ipmi://10.0.0.1/path"}, std::string{"https://[::1"},
        std::string{"https://-oProxyCommand=x"}}) {
    auto err = p->check(e);
    ASSERT_TRUE(err) << e;
    EXPECT_TRUE(is(err, errc::invalid_argument));
    EXPECT_NE(message_of(err).find("bmc_endpoint"), std::string::npos) << message_of(err);
  }
}

TEST(EndpointPolicy, RefusesLoopbackAndLinkLocalByDefaultAndAllowsLoopbackWithTheOption) {
  auto strict = policy();
  auto lab = policy({}, true);
  for (const auto* e : {"http://127.0.0.1:9000/bmc/h1", "https://127.1.2.3", "https://[::1]:8443",
                        "https://[::ffff:127.0.0.1]", "https://localhost:8000"}) {
    EXPECT_TRUE(strict->check(e)) << e;
    EXPECT_FALSE(lab->check(e)) << e << ": " << message_of(lab->check(e));
  }
  for (const auto* e :
       {"https://169.254.169.254", "https://[fe80::1]", "https://0.0.0.0", "https://[::]",
        "https://224.0.0.1", "https://255.255.255.255", "https://[::ffff:169.254.1.1]"}) {
    EXPECT_TRUE(strict->check(e)) << e;
    EXPECT_TRUE(lab->check(e)) << e << " is refused even for simulators";
  }
}

TEST(EndpointPolicy, RefusesTheNodesOwnAddresses) {
  ifaddrs* list = nullptr;
  ASSERT_EQ(::getifaddrs(&list), 0);
  std::string own;
  for (auto* i = list; i != nullptr && own.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::strncmp(text, "127.", 4) != 0) own = text;
  }
  ::freeifaddrs(list);
  if (own.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  auto err = policy()->check("https://" + own);
  ASSERT_TRUE(err);
  EXPECT_NE(message_of(err).find("this node"), std::string::npos) << message_of(err);
  EXPECT_FALSE(policy({}, true)->check("https://" + own));
}

TEST(EndpointPolicy, WithNetworksTheHostMustBeInsideOne) {
  auto p = policy({"10.20.0.0/16", "2001:db8:b::/48", "192.0.2.7", "*.bmc.dc1"});
  for (const auto* e : {"https://10.20.3.4", "https://[2001:db8:b::9]", "https://192.0.2.7",
                        "https://r1-01.bmc.dc1", "ipmi://r1-02.bmc.dc1:623"})
    EXPECT_FALSE(p->check(e)) << e << ": " << message_of(p->check(e));
  for (const auto* e : {"https://10.21.0.1", "https://192.0.2.8", "https://[2001:db8:c::1]",
                        "https://r1-01.bmc.dc2", "https://unresolvable-name.invalid"}) {
    auto err = p->check(e);
    ASSERT_TRUE(err) << e;
    EXPECT_NE(message_of(err).find("BMC networks"), std::string::npos) << message_of(err);
  }
  // A pattern never lets a refused address in.
  auto lab = policy({"localhost"});
  EXPECT_TRUE(lab->check("https://localhost"));
}

TEST(EndpointPolicy, ChecksEachAddressBeforeConnecting) {
  auto p = policy({"10.0.0.0/8"});
  EXPECT_FALSE(p->check_address("bmc1", sa(v4("10.1.2.3"))));
  EXPECT_TRUE(p->check_address("bmc1", sa(v4("11.1.2.3"))));
  EXPECT_TRUE(p->check_address("bmc1", sa(v4("127.0.0.1"))));
  EXPECT_TRUE(p->check_address("bmc1", sa(v6("::ffff:127.0.0.1"))));
  EXPECT_TRUE(p->check_address("bmc1", sa(v6("fe80::2"))));
  EXPECT_FALSE(p->check_address("bmc1", sa(v6("::ffff:10.0.0.1"))));
}

TEST(EndpointPolicy, ANameThatResolvesToLoopbackIsRefusedWhenResolvedForAConnection) {
  auto r = policy()->resolve("localhost");
  ASSERT_FALSE(r);
  EXPECT_TRUE(is(r.error(), errc::invalid_argument));
  auto ok = policy({}, true)->resolve("localhost");
  ASSERT_TRUE(ok) << message_of(ok.error());
  EXPECT_TRUE(*ok == "127.0.0.1" || *ok == "::1") << *ok;
}

TEST(EndpointPolicy, RefusesBadNetworksAtStartUp) {
  for (const auto* n : {"10.0.0.0/33", "10.0.0.0/", "fd00::/129", "", "bad pattern", "a/b"}) {
    endpoint_options o;
    o.networks = {n};
    auto p = endpoint_policy::make(o);
    ASSERT_FALSE(p) << n;
    EXPECT_TRUE(is(p.error(), errc::bad_config));
  }
}

}  // namespace
}  // namespace ab::bmc
