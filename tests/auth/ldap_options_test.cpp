#include <gtest/gtest.h>

#include <functional>

#include "auth/ldap_directory.hpp"
#include "core/error.hpp"

namespace ab::testing {

using auth::ldap_options;

namespace {

ldap_options good() {
  ldap_options o;
  o.url = "ldaps://ldap.example.org";
  o.bind_template = "uid={user},ou=people,dc=example,dc=org";
  o.group_search_base = "ou=groups,dc=example,dc=org";
  return o;
}

}  // namespace

TEST(LdapOptions, GoodOptionsAndTheDocumentedDeploymentsPass) {
  EXPECT_FALSE(auth::validate(good()));
  auto ad = good();
  ad.url = "ldap://dc1.corp.example.com ldap://dc2.corp.example.com";
  ad.start_tls = true;
  ad.bind_template = "{user}@corp.example.com";
  ad.user_search_base = "DC=corp,DC=example,DC=com";
  ad.user_search_filter = "(sAMAccountName={user})";
  ad.group_search_base = "OU=Groups,DC=corp,DC=example,DC=com";
  ad.group_search_filter = "(member:1.2.840.113556.1.4.1941:={dn})";
  EXPECT_FALSE(auth::validate(ad)) << message_of(auth::validate(ad));
  auto test_dir = good();
  test_dir.url = "ldap://127.0.0.1:3890/";
  test_dir.allow_plaintext = true;
  EXPECT_FALSE(auth::validate(test_dir));
}

TEST(LdapOptions, EachMistakeIsABadConfigNamingTheOption) {
  struct mistake {
    std::string option;
    std::function<void(ldap_options&)> make;
  };
  const std::vector<mistake> mistakes = {
      {"'url'", [](ldap_options& o) { o.url = ""; }},
      {"'url'", [](ldap_options& o) { o.url = "https://ldap.example.org"; }},
      {"'url'", [](ldap_options& o) { o.url = "ldap.example.org"; }},
      {"'url'", [](ldap_options& o) { o.url = "ldap://ldap.example.org"; }},
      {"'start_tls'", [](ldap_options& o) { o.start_tls = true; }},
      {"'bind_template'", [](ldap_options& o) { o.bind_template = "uid=alice,dc=example,dc=org"; }},
      {"'bind_template'", [](ldap_options& o) { o.bind_template = "uid={user},,dc=x"; }},
      {"'user_search_base'", [](ldap_options& o) { o.bind_template = "{user}@corp.example.com"; }},
      {"'user_search_base'", [](ldap_options& o) { o.user_search_base = "people"; }},
      {"'user_search_filter'",
       [](ldap_options& o) {
         o.user_search_base = "dc=example,dc=org";
         o.user_search_filter = "(uid=alice)";
       }},
      {"'user_search_filter'",
       [](ldap_options& o) {
         o.user_search_base = "dc=example,dc=org";
         o.user_search_filter = "uid={user}";
       }},
      {"'group_search_base'", [](ldap_options& o) { o.group_search_base = "groups"; }},
      {"'group_search_filter'", [](ldap_options& o) { o.group_search_filter = "(cn=admins)"; }},
      {"'group_name_attribute'", [](ldap_options& o) { o.group_name_attribute = ""; }},
      {"'network_timeout'", [](ldap_options& o) { o.network_timeout = {}; }},
      {"'operation_timeout'",
       [](ldap_options& o) { o.operation_timeout = std::chrono::milliseconds{-1}; }},
      {"'ca_file'", [](ldap_options& o) { o.ca_file = "/nonexistent/ca.pem"; }},
  };
  for (const auto& m : mistakes) {
    auto o = good();
    m.make(o);
    auto err = auth::validate(o);
    EXPECT_TRUE(is(err, errc::bad_config)) << m.option;
    EXPECT_NE(message_of(err).find(m.option), std::string::npos) << message_of(err);
  }
}

TEST(LdapOptions, ADirectoryWithBadOptionsRefusesEveryLoginAsBadConfig) {
  auto o = good();
  o.url = "";
  auth::ldap_directory dir{o};
  auto user = dir.authenticate("alice", "secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::bad_config)) << message_of(user.error());
}

}  // namespace ab::testing
