#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "auth/ldap_directory.hpp"
#include "core/error.hpp"
#include "tests/fakes/slapd.hpp"

namespace ab::testing {

using namespace std::chrono_literals;
using auth::directory_user;
using auth::ldap_directory;
using auth::ldap_options;
using groups = std::vector<std::string>;

namespace {

constexpr const char* people = "ou=people,dc=example,dc=org";

ldap_options options_for(const slapd_process& slapd) {
  ldap_options o;
  o.url = slapd.url();
  o.allow_plaintext = true;
  o.bind_template = "uid={user},ou=people,dc=example,dc=org";
  o.group_search_base = "ou=groups,dc=example,dc=org";
  o.network_timeout = 2s;
  o.operation_timeout = 2s;
  return o;
}

/// The options with a user search, as for Active Directory.
ldap_options searching(ldap_options o) {
  o.user_search_base = people;
  o.user_search_filter = "(&(objectClass=inetOrgPerson)(uid={user}))";
  return o;
}

void expect_refused(const caf::expected<directory_user>& user, const std::string& what) {
  ASSERT_FALSE(user) << what << " logged in as " << user->dn;
  EXPECT_TRUE(is(user.error(), errc::unauthenticated)) << what << ": " << message_of(user.error());
  EXPECT_EQ(message_of(user.error()),
            "unauthenticated: login failed: unknown login or wrong password")
      << what;
}

}  // namespace

/// Each test gets its own slapd: some stop or pause it.
class LdapDirectory : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(slapd.ok()) << slapd.error(); }

  slapd_process slapd;
};

TEST_F(LdapDirectory, TheRightPasswordGivesTheLoginItsEntryAndGroups) {
  ldap_directory dir{options_for(slapd)};
  auto alice = dir.authenticate("alice", "alice-secret");
  ASSERT_TRUE(alice) << message_of(alice.error());
  EXPECT_EQ(alice->login, "alice");
  EXPECT_EQ(alice->dn, "uid=alice,ou=people,dc=example,dc=org");
  EXPECT_EQ(alice->groups, (groups{"auditors", "fleet-operators"}));
  auto carol = dir.authenticate("carol", "carol-secret");
  ASSERT_TRUE(carol) << message_of(carol.error());
  EXPECT_EQ(carol->groups, groups{"deployers"});
}

TEST_F(LdapDirectory, APersonInNoGroupHasNoGroups) {
  ldap_directory dir{options_for(slapd)};
  auto bob = dir.authenticate("bob", "bob-secret");
  ASSERT_TRUE(bob) << message_of(bob.error());
  EXPECT_EQ(bob->dn, "uid=bob,ou=people,dc=example,dc=org");
  EXPECT_TRUE(bob->groups.empty());
}

TEST_F(LdapDirectory, GroupsComeFromMemberOfAndFromTheGroupSearchAlone) {
  auto only_member_of = options_for(slapd);
  only_member_of.group_search_base.clear();
  ldap_directory by_member_of{only_member_of};
  EXPECT_EQ(by_member_of.authenticate("alice", "alice-secret")->groups,
            (groups{"auditors", "fleet-operators"}));
  // posixGroup membership (memberUid) is not reflected in memberOf.
  EXPECT_TRUE(by_member_of.authenticate("carol", "carol-secret")->groups.empty());

  auto only_search = options_for(slapd);
  only_search.read_member_of = false;
  ldap_directory by_search{only_search};
  EXPECT_EQ(by_search.authenticate("alice", "alice-secret")->groups,
            (groups{"auditors", "fleet-operators"}));
  EXPECT_EQ(by_search.authenticate("carol", "carol-secret")->groups, groups{"deployers"});

  auto outside = only_member_of;
  outside.group_search_base = "ou=elsewhere,dc=example,dc=org";
  outside.group_search_filter.clear();
  EXPECT_TRUE(ldap_directory{outside}.authenticate("alice", "alice-secret")->groups.empty());
}

TEST_F(LdapDirectory, TheUserSearchFindsTheEntryEvenForLoginsThatNeedEscaping) {
  ldap_directory dir{searching(options_for(slapd))};
  auto alice = dir.authenticate("alice", "alice-secret");
  ASSERT_TRUE(alice) << message_of(alice.error());
  EXPECT_EQ(alice->dn, "uid=alice,ou=people,dc=example,dc=org");
  EXPECT_EQ(alice->groups, (groups{"auditors", "fleet-operators"}));
  // A comma for the DN, parentheses and a star for the filters.
  auto odd = dir.authenticate("o'hara, k (ops)*", "ohara-secret");
  ASSERT_TRUE(odd) << message_of(odd.error());
  EXPECT_EQ(odd->login, "o'hara, k (ops)*");
  EXPECT_EQ(odd->groups, groups{"auditors"});
}

TEST_F(LdapDirectory, WrongPasswordsUnknownLoginsAndEmptyPasswordsAreRefusedAlike) {
  for (const auto& o : {options_for(slapd), searching(options_for(slapd))}) {
    ldap_directory dir{o};
    expect_refused(dir.authenticate("alice", "wrong"), "wrong password");
    expect_refused(dir.authenticate("alice", "bob-secret"), "another's password");
    expect_refused(dir.authenticate("mallory", "alice-secret"), "unknown login");
    expect_refused(dir.authenticate("alice", ""), "empty password");
    expect_refused(dir.authenticate("", "alice-secret"), "empty login");
    expect_refused(dir.authenticate("ali\nce", "alice-secret"), "control character");
    expect_refused(dir.authenticate(std::string(300, 'a'), "alice-secret"), "long login");
  }
}

TEST_F(LdapDirectory, InjectionAttemptsAreRefusedNeverAnErrorOrALogin) {
  const std::vector<std::string> logins = {
      "*",
      "*)(uid=*",
      "alice)(uid=*",
      "*)(|(uid=*",
      "alice*",
      "admin,dc=example",
      "alice,ou=people,dc=example,dc=org",
      "uid=alice,ou=people,dc=example,dc=org",
      "x+uid=alice",
      "cn=admin,dc=example,dc=org",
      "admin",
      "alice\\",
      std::string{"alice\0", 6},
  };
  for (const auto& o : {options_for(slapd), searching(options_for(slapd))}) {
    ldap_directory dir{o};
    for (const auto& login : logins)
      for (const char* password : {"alice-secret", "admin-secret", "*"})
        expect_refused(dir.authenticate(login, password), "login '" + login + "'");
  }
}

TEST_F(LdapDirectory, TheLoginAndDnAreSpelledAsTheDirectorySpellsThem) {
  // Directories match uid ignoring case and surrounding spaces: these are all alice.
  for (const auto& o : {options_for(slapd), searching(options_for(slapd))}) {
    for (const char* login : {"ALICE", " alice", "Alice "}) {
      auto user = ldap_directory{o}.authenticate(login, "alice-secret");
      ASSERT_TRUE(user) << login << ": " << message_of(user.error());
      EXPECT_EQ(user->login, "alice");
      EXPECT_EQ(user->dn, "uid=alice,ou=people,dc=example,dc=org");
    }
  }
  auto as_given = options_for(slapd);
  as_given.login_attribute.clear();
  EXPECT_EQ(ldap_directory{as_given}.authenticate("ALICE", "alice-secret")->login, "ALICE");
}

TEST_F(LdapDirectory, ALoginMatchingSeveralEntriesOrNoneOfTheSearchIsRefused) {
  auto ambiguous = searching(options_for(slapd));
  ambiguous.user_search_filter = "(|(uid={user})(objectClass=inetOrgPerson))";
  expect_refused(ldap_directory{ambiguous}.authenticate("alice", "alice-secret"), "ambiguous");
  auto elsewhere = searching(options_for(slapd));
  elsewhere.user_search_base = "ou=groups,dc=example,dc=org";
  expect_refused(ldap_directory{elsewhere}.authenticate("alice", "alice-secret"), "not found");
}

TEST_F(LdapDirectory, AFilterTheServerCannotParseIsABadConfig) {
  auto o = options_for(slapd);
  o.group_search_filter = "(&(member={dn})(cn=*)))";
  ASSERT_FALSE(auth::validate(o));
  auto user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::bad_config)) << message_of(user.error());
}

TEST_F(LdapDirectory, AStoppedServerIsUnavailableNamingTheUrl) {
  ldap_directory dir{options_for(slapd)};
  slapd.stop();
  auto user = dir.authenticate("alice", "alice-secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
  EXPECT_NE(message_of(user.error()).find(slapd.url()), std::string::npos)
      << message_of(user.error());
  // Refusals that need no server still say so.
  expect_refused(dir.authenticate("alice", ""), "empty password");
}

TEST_F(LdapDirectory, AHungServerIsUnavailableAfterTheOperationTimeout) {
  auto o = options_for(slapd);
  o.operation_timeout = 500ms;
  ldap_directory dir{o};
  slapd.pause();
  auto start = std::chrono::steady_clock::now();
  auto user = dir.authenticate("alice", "alice-secret");
  auto took = std::chrono::steady_clock::now() - start;
  slapd.resume();
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
  EXPECT_NE(message_of(user.error()).find(slapd.url()), std::string::npos);
  // About the timeout; the bound is generous for a loaded machine.
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(dir.authenticate("alice", "alice-secret")) << "after the pause";
}

TEST_F(LdapDirectory, StartTlsAgainstAServerWithoutTlsIsUnavailable) {
  auto o = options_for(slapd);
  o.start_tls = true;
  auto user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
}

TEST_F(LdapDirectory, ConcurrentLoginsEachGetTheirOwnAnswer) {
  ldap_directory dir{searching(options_for(slapd))};
  std::vector<std::thread> threads;
  threads.reserve(6);
  std::atomic<int> right{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        bool good = (t + i) % 2 == 0;
        auto user = dir.authenticate("bob", good ? "bob-secret" : "nope");
        if (good == static_cast<bool>(user) && (good || is(user.error(), errc::unauthenticated)))
          ++right;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), 30);
}

/// A slapd that also serves TLS with a certificate from a throwaway CA.
class LdapDirectoryTls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(slapd.ok()) << slapd.error(); }

  slapd_process slapd{slapd_options{.tls = true}};
};

TEST_F(LdapDirectoryTls, StartTlsAndLdapsWorkWithTheRightCa) {
  auto o = options_for(slapd);
  o.allow_plaintext = false;
  o.start_tls = true;
  o.ca_file = slapd.ca_file();
  auto user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_TRUE(user) << message_of(user.error());
  EXPECT_EQ(user->groups, (groups{"auditors", "fleet-operators"}));
  o.start_tls = false;
  o.url = slapd.ldaps_url();
  user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_TRUE(user) << message_of(user.error());
  expect_refused(ldap_directory{o}.authenticate("alice", "wrong"), "wrong password over TLS");
}

TEST_F(LdapDirectoryTls, AnUntrustedCertificateIsUnavailableNeverALogin) {
  auto o = options_for(slapd);
  o.allow_plaintext = false;
  o.url = slapd.ldaps_url();
  auto user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
  EXPECT_NE(message_of(user.error()).find(slapd.ldaps_url()), std::string::npos);
  o.url = slapd.url();
  o.start_tls = true;
  user = ldap_directory{o}.authenticate("alice", "alice-secret");
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
}

TEST_F(LdapDirectoryTls, AHungServerIsUnavailableInTimeOverLdaps) {
  auto o = options_for(slapd);
  o.url = slapd.ldaps_url();
  o.ca_file = slapd.ca_file();
  o.network_timeout = 500ms;
  o.operation_timeout = 500ms;
  slapd.pause();
  auto start = std::chrono::steady_clock::now();
  auto user = ldap_directory{o}.authenticate("alice", "alice-secret");
  auto took = std::chrono::steady_clock::now() - start;
  slapd.resume();
  ASSERT_FALSE(user);
  EXPECT_TRUE(is(user.error(), errc::unavailable)) << message_of(user.error());
  EXPECT_LT(took, 5s);
}

}  // namespace ab::testing
