#include <gtest/gtest.h>

#include "auth/ldap_names.hpp"

namespace ab::testing {

using namespace ab::auth;

struct text_case {
  std::string in;
  std::string out;
};

TEST(LdapNames, DnValuesAreEscapedPerRfc4514) {
  // libldap writes RFC 4514 escapes as hex pairs; `=` is escaped too, which is allowed.
  const std::vector<text_case> cases = {
      {"alice", "alice"},
      {"admin,dc=example", "admin\\2Cdc\\3Dexample"},
      {"a+b", "a\\2Bb"},
      {"say \"hi\"", "say \\22hi\\22"},
      {"back\\slash", "back\\5Cslash"},
      {"<tag>;", "\\3Ctag\\3E\\3B"},
      {"#hash", "\\23hash"},
      {"mid#hash", "mid#hash"},
      {" lead", "\\20lead"},
      {"trail ", "trail\\20"},
      {"*)(uid=*", "*)(uid\\3D*"},
      {"o'hara, k (ops)*", "o'hara\\2C k (ops)*"},
  };
  for (const auto& c : cases) EXPECT_EQ(escape_dn_value(c.in).value_or("?"), c.out) << c.in;
}

TEST(LdapNames, FilterValuesAreEscapedPerRfc4515) {
  const std::vector<text_case> cases = {
      {"alice", "alice"},
      {"*", "\\2A"},
      {"*)(uid=*", "\\2A\\29\\28uid=\\2A"},
      {"a\\b", "a\\5Cb"},
      {std::string{"nul\0byte", 8}, "nul\\00byte"},
      {"admin,dc=example", "admin,dc=example"},
  };
  for (const auto& c : cases) EXPECT_EQ(escape_filter_value(c.in), c.out) << c.in;
}

TEST(LdapNames, BindNamesAreFormedFromDnUpnAndDownLevelTemplates) {
  struct bind_case {
    std::string templ;
    std::string login;
    std::string name;  // empty: the login is refused
  };
  const std::vector<bind_case> cases = {
      {"uid={user},ou=people,dc=example,dc=org", "alice", "uid=alice,ou=people,dc=example,dc=org"},
      {"uid={user},ou=people,dc=example,dc=org", "admin,dc=example",
       "uid=admin\\2Cdc\\3Dexample,ou=people,dc=example,dc=org"},
      {"uid={user},ou=people,dc=example,dc=org", "x+cn=root",
       "uid=x\\2Bcn\\3Droot,ou=people,dc=example,dc=org"},
      {"uid={user},ou=people,dc=example,dc=org", "*)(uid=*",
       "uid=*)(uid\\3D*,ou=people,dc=example,dc=org"},
      {"cn={user},ou={user},dc=example,dc=org", "bob", "cn=bob,ou=bob,dc=example,dc=org"},
      {"{user}@corp.example.com", "alice", "alice@corp.example.com"},
      {"{user}@corp.example.com", "j.smith-2", "j.smith-2@corp.example.com"},
      {"{user}@corp.example.com", "alice@evil.example.com", ""},
      {"{user}@corp.example.com", "cn=admin,dc=corp", ""},
      {"{user}@corp.example.com", "*", ""},
      {"CORP\\{user}", "alice", "CORP\\alice"},
      {"CORP\\{user}", "OTHER\\alice", ""},
      {"uid={user},dc=example,dc=org", "", ""},
      {"uid={user},dc=example,dc=org", "tab\there", ""},
      {"uid={user},dc=example,dc=org", "new\nline", ""},
      {"uid={user},dc=example,dc=org", std::string{"nul\0", 4}, ""},
      {"uid={user},dc=example,dc=org", "del\x7f", ""},
      {"uid={user},dc=example,dc=org", std::string(257, 'a'), ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(bind_name(c.templ, c.login), c.name) << c.templ << " with " << c.login;
  EXPECT_EQ(bind_name("uid={user},dc=x", std::string(256, 'a')),
            "uid=" + std::string(256, 'a') + ",dc=x");
}

TEST(LdapNames, ExpansionIsOnePassSoValuesAreNotExpandedAgain) {
  EXPECT_EQ(expand("(|(member={dn})(memberUid={user}))", {{"{user}", "{dn}"}, {"{dn}", "cn=x"}}),
            "(|(member=cn=x)(memberUid={dn}))");
  EXPECT_EQ(expand("no placeholders", {{"{user}", "x"}}), "no placeholders");
  EXPECT_EQ(expand("{user}{user}", {{"{user}", "ab"}}), "abab");
}

TEST(LdapNames, TemplatesWithAnEqualsSignAreDns) {
  EXPECT_TRUE(is_dn_template("uid={user},ou=people,dc=example,dc=org"));
  EXPECT_FALSE(is_dn_template("{user}@corp.example.com"));
  EXPECT_FALSE(is_dn_template("CORP\\{user}"));
}

TEST(LdapNames, GroupNamesComeFromTheFirstRdn) {
  EXPECT_EQ(first_rdn_value("cn=fleet-operators,ou=groups,dc=example,dc=org"), "fleet-operators");
  EXPECT_EQ(first_rdn_value("CN=Fleet Operators,OU=Groups,DC=corp,DC=example,DC=com"),
            "Fleet Operators");
  EXPECT_EQ(first_rdn_value("cn=a\\,b,dc=x"), "a,b");
  EXPECT_EQ(first_rdn_value("not a dn"), "");
  EXPECT_EQ(first_rdn_value(""), "");
}

TEST(LdapNames, DnWithinComparesWholeRdnsIgnoringCase) {
  EXPECT_TRUE(dn_within("cn=ops,ou=groups,dc=example,dc=org", "ou=groups,dc=example,dc=org"));
  EXPECT_TRUE(dn_within("CN=Ops,OU=Groups,DC=Example,DC=Org", "ou=groups, dc=example, dc=org"));
  EXPECT_TRUE(dn_within("ou=groups,dc=example,dc=org", "ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(dn_within("cn=ops,ou=other,dc=example,dc=org", "ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(dn_within("cn=ops,ou=xgroups,dc=example,dc=org", "ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(dn_within("dc=org", "dc=example,dc=org"));
  EXPECT_FALSE(dn_within("not a dn", "dc=org"));
}

}  // namespace ab::testing
