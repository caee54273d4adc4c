#include <gtest/gtest.h>

#include "net/api/forwarded.hpp"

namespace ab::testing {

namespace {

net::http_request from(const std::string& remote, const std::string& forwarded_for = "") {
  net::http_request req;
  req.remote = remote;
  if (!forwarded_for.empty()) req.headers["x-forwarded-for"] = forwarded_for;
  return req;
}

ip_networks routers() {
  return *ip_networks::parse({"10.9.0.0/16", "2001:db8:9::1"});
}

}  // namespace

TEST(ForwardedFor, ATrustedRouterNamesTheClient) {
  EXPECT_EQ(net::client_address(from("10.9.0.1:5000", "192.0.2.7"), routers()), "192.0.2.7");
  EXPECT_EQ(net::client_address(from("[2001:db8:9::1]:5000", "2001:db8::42"), routers()),
            "2001:db8::42");
}

TEST(ForwardedFor, TheLastHopIsTheOneTheRouterAdded) {
  EXPECT_EQ(net::client_address(from("10.9.0.1:5000", "198.51.100.1, 192.0.2.7"), routers()),
            "192.0.2.7");
  EXPECT_EQ(net::client_address(from("10.9.0.1:5000", "198.51.100.1,192.0.2.7 "), routers()),
            "192.0.2.7");
}

TEST(ForwardedFor, AnyoneElsesHeaderIsIgnored) {
  EXPECT_EQ(net::client_address(from("10.0.0.1:5000", "192.0.2.7"), routers()), "10.0.0.1");
  EXPECT_EQ(net::client_address(from("[2001:db8:9::2]:5000", "192.0.2.7"), routers()),
            "2001:db8:9::2");
  EXPECT_EQ(net::client_address(from("10.9.0.1:5000", "192.0.2.7"), ip_networks{}), "10.9.0.1")
      << "no trusted routers: nobody's header counts";
}

TEST(ForwardedFor, ATrustedRoutersHeaderWithoutAnAddressLeavesTheRouters) {
  for (const char* junk :
       {"unknown", "", " ", "192.0.2.7:80", "a,b", "192.0.2.7, ", "<script>", "::ffff:zz"})
    EXPECT_EQ(net::client_address(from("10.9.0.1:5000", junk), routers()), "10.9.0.1") << junk;
  EXPECT_EQ(net::client_address(from("10.9.0.1:5000"), routers()), "10.9.0.1");
}

}  // namespace ab::testing
