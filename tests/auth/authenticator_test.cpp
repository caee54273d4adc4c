// Authentication of API callers (bearer tokens, directory logins) and live policy reload.

#include "auth/authenticator.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::auth {
namespace {

const vocabulary words{{"reimage"}, {"maas", "user"}};

std::string policy_with(const std::string& token, const std::string& role_actions) {
  return R"({"accounts": {"bot": {"token_sha256": ")" + sha256_hex(token) +
         R"(", "roles": ["r"], "type": "maas"}}, "groups": {"ops": ["r"]},
             "roles": {"r": [{"actions": )" +
         role_actions + "}]}}";
}

std::string basic(const std::string& user_pass) {
  // base64 of a few fixed strings, spelled out so the test does not share the decoder.
  if (user_pass == "alice:pw") return "Basic YWxpY2U6cHc=";
  if (user_pass == "alice:bad") return "Basic YWxpY2U6YmFk";
  if (user_pass == "bob:pw") return "Basic Ym9iOnB3";
  return "Basic " + user_pass;
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ab::testing::scratch_dir("ab-auth-");
    write(policy_with("secret", R"(["reimage", "read"])"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& text) {
    auto tmp = dir_ / "policy.json.tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, dir_ / "policy.json");
  }

  std::unique_ptr<authenticator> open(std::chrono::milliseconds watch = {}) {
    authenticator_options o;
    o.policy_file = (dir_ / "policy.json").string();
    o.words = words;
    o.watch_interval = watch;
    o.directory = [this](const std::string& login,
                         const std::string& password) -> caf::expected<directory_user> {
      ++binds_;
      if (login == "bob")
        return make_error(errc::unavailable, "ldap://dir: Can't contact LDAP server");
      if (login == "alice" && password == "pw")
        return directory_user{"alice", "uid=alice,dc=example", {"ops"}};
      return make_error(errc::unauthenticated, "invalid login or password");
    };
    auto a = authenticator::open(std::move(o));
    EXPECT_TRUE(a) << message_of(a.error());
    return std::move(*a);
  }

  std::filesystem::path dir_;
  std::atomic<int> binds_{0};
};

TEST_F(AuthenticatorTest, ABearerTokenOfAnAccountIsItsIdentity) {
  auto a = open();
  auto who = a->authenticate("Bearer secret");
  ASSERT_TRUE(who) << message_of(who.error());
  EXPECT_EQ(who->name, "bot");
  EXPECT_EQ(who->method, "token");
  EXPECT_TRUE(who->maas);
  EXPECT_EQ(who->roles, std::vector<std::string>{"r"});
  EXPECT_TRUE(a->authenticate("bearer   secret")) << "scheme case and spacing do not matter";
  EXPECT_FALSE(a->may_block("Bearer secret"));
}

TEST_F(AuthenticatorTest, MissingWrongOrMalformedCredentialsAreUnauthenticated) {
  auto a = open();
  for (const std::string h : {"", "Bearer", "Bearer wrong", "Bearer  ", "Token secret", "secret",
                              "Basic !!!!", "Basic YWxpY2U=", "Basic OnB3"}) {
    auto who = a->authenticate(h);
    ASSERT_FALSE(who) << h;
    EXPECT_TRUE(is(who.error(), errc::unauthenticated)) << h << ": " << message_of(who.error());
  }
  EXPECT_EQ(binds_, 0) << "malformed Basic credentials never reach the directory";
}

TEST_F(AuthenticatorTest, ADirectoryLoginTakesRolesFromGroupsAndIsCached) {
  auto a = open();
  EXPECT_TRUE(a->may_block(basic("alice:pw")));
  auto who = a->authenticate(basic("alice:pw"));
  ASSERT_TRUE(who) << message_of(who.error());
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->method, "directory");
  EXPECT_FALSE(who->maas);
  EXPECT_EQ(who->roles, std::vector<std::string>{"r"});
  EXPECT_FALSE(a->may_block(basic("alice:pw")));
  ASSERT_TRUE(a->authenticate(basic("alice:pw")));
  EXPECT_EQ(binds_, 1) << "the second call is served from the cache";
  auto wrong = a->authenticate(basic("alice:bad"));
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(is(wrong.error(), errc::unauthenticated));
  ASSERT_FALSE(a->authenticate(basic("alice:bad")));
  EXPECT_EQ(binds_, 3) << "failed logins are not cached";
}

TEST_F(AuthenticatorTest, AnUnreachableDirectoryIsUnavailableNotUnauthenticated) {
  auto a = open();
  auto who = a->authenticate(basic("bob:pw"));
  ASSERT_FALSE(who);
  EXPECT_TRUE(is(who.error(), errc::unavailable));
}

TEST_F(AuthenticatorTest, WithoutADirectoryBasicLoginsAreRefused) {
  authenticator_options o;
  o.policy_file = (dir_ / "policy.json").string();
  o.words = words;
  o.watch_interval = {};
  auto a = authenticator::open(std::move(o));
  ASSERT_TRUE(a);
  auto who = (*a)->authenticate(basic("alice:pw"));
  ASSERT_FALSE(who);
  EXPECT_NE(message_of(who.error()).find("not configured"), std::string::npos);
}

TEST_F(AuthenticatorTest, OpeningRefusesAMissingOrBadPolicy) {
  write("{\"roles\": 1}");
  authenticator_options o;
  o.policy_file = (dir_ / "policy.json").string();
  o.words = words;
  auto a = authenticator::open(o);
  ASSERT_FALSE(a);
  EXPECT_TRUE(is(a.error(), errc::bad_config));
  o.policy_file = (dir_ / "missing.json").string();
  EXPECT_FALSE(authenticator::open(o));
}

TEST_F(AuthenticatorTest, ThePolicyIsReloadedLiveAndABadEditKeepsTheLastGoodOne) {
  auto a = open(std::chrono::milliseconds{20});
  auto who = *a->authenticate("Bearer secret");
  EXPECT_FALSE(a->authorize(who, {"audit.read", "", "", ""}).allowed);
  // Rotate the token and grant the auditor permission.
  write(policy_with("rotated", R"(["reimage", "read", "audit.read"])"));
  ASSERT_TRUE(
      testing::wait_until([&] { return static_cast<bool>(a->authenticate("Bearer rotated")); }));
  EXPECT_FALSE(a->authenticate("Bearer secret")) << "the old token stops working";
  EXPECT_TRUE(a->authorize(who, {"audit.read", "", "", ""}).allowed);
  // A broken edit is refused; the last good policy stays in force.
  write(R"({"roles": {"r": [{"actions": ["typo"]}]}})");
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  EXPECT_TRUE(a->authenticate("Bearer rotated"));
  EXPECT_TRUE(is(a->reload(), errc::bad_config));
  EXPECT_TRUE(a->authenticate("Bearer rotated"));
}

}  // namespace
}  // namespace ab::auth
