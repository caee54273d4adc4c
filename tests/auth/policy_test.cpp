// The policy engine: parsing and checking of policy files, and its decisions.

#include "auth/policy.hpp"

#include <gtest/gtest.h>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "lifecycle/workflows.hpp"

namespace ab::auth {
namespace {

const vocabulary words{{"build", "reimage", "wipe", "power_on", "power_off"},
                       {"maas", "user", "organic"}};

const std::string sample = R"({
  "accounts": {
    "maas-east": {"token_sha256": ")" +
                           sha256_hex("maas-secret") +
                           R"(", "roles": ["provisioner"], "type": "maas"},
    "ci-bot": {"token_sha256": ")" +
                           sha256_hex("ci-secret") + R"(", "roles": ["provisioner"]}
  },
  "groups": {"Fleet-Operators": ["operator"], "auditors": ["auditor"]},
  "roles": {
    "provisioner": [{"actions": ["build", "reimage", "read"], "sites": ["east-*"], "classes": ["maas", "user"]}],
    "operator": [{"actions": ["power_*", "reimage", "cancel", "read"], "hosts": ["web-*"], "classes": ["user"]},
                 {"actions": ["hosts.write"], "sites": ["lab"]}],
    "auditor": [{"actions": ["read", "audit.read"]}]
  }
})";

policy sample_policy() {
  auto p = policy::parse(sample, words);
  EXPECT_TRUE(p) << message_of(p.error());
  return *p;
}

TEST(Policy, FindsAccountsByTokenDigest) {
  auto p = sample_policy();
  const auto* a = p.find_account(sha256_hex("maas-secret"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "maas-east");
  EXPECT_TRUE(a->maas);
  EXPECT_FALSE(p.find_account(sha256_hex("ci-secret"))->maas);
  EXPECT_EQ(p.find_account(sha256_hex("guess")), nullptr);
}

TEST(Policy, MapsDirectoryGroupsToRolesIgnoringCase) {
  auto p = sample_policy();
  EXPECT_EQ(p.roles_of_groups({"fleet-operators", "nobody"}), std::vector<std::string>{"operator"});
  EXPECT_EQ(p.roles_of_groups({"AUDITORS", "Fleet-Operators"}),
            (std::vector<std::string>{"auditor", "operator"}));
  EXPECT_TRUE(p.roles_of_groups({}).empty());
}

struct decision_case {
  const char* name;
  identity who;
  operation what;
  bool allowed;
  const char* reason_contains;
};

TEST(Policy, DecidesEveryDimensionAndDeniesByDefault) {
  auto p = sample_policy();
  identity maas{"maas-east", "token", {"provisioner"}, true};
  identity ci{"ci-bot", "token", {"provisioner"}, false};
  identity alice{"alice", "directory", {"operator"}, false};
  identity ghost{"ghost", "directory", {}, false};
  identity auditor{"audrey", "directory", {"auditor"}, false};
  const decision_case cases[] = {
      {"maas account, maas class", maas, {"build", "east-1", "h1", "maas"}, true, "provisioner"},
      {"site pattern", maas, {"build", "west-1", "h1", "maas"}, false, "at site 'west-1'"},
      {"action not granted", maas, {"wipe", "east-1", "h1", "maas"}, false, "'wipe'"},
      {"maas class only for maas accounts",
       ci,
       {"build", "east-1", "h1", "maas"},
       false,
       "reserved for MaaS"},
      {"same account, user class", ci, {"build", "east-1", "h1", "user"}, true, ""},
      {"class not granted", ci, {"build", "east-1", "h1", "organic"}, false, "class 'organic'"},
      {"glob action", alice, {"power_off", "any", "web-7", "user"}, true, ""},
      {"host pattern", alice, {"power_off", "any", "db-7", "user"}, false, "host 'db-7'"},
      {"second grant of a role", alice, {"hosts.write", "lab", "x", ""}, true, ""},
      {"second grant, other site", alice, {"hosts.write", "prod", "x", ""}, false, "prod"},
      {"read without a site", alice, {"read", "", "", ""}, true, ""},
      {"cancel is its own permission", auditor, {"cancel", "s", "web-1", ""}, false, "cancel"},
      {"auditor reads the trail", auditor, {"audit.read", "", "", ""}, true, ""},
      {"operator may not read the trail", alice, {"audit.read", "", "", ""}, false, "operator"},
      {"no roles, nothing", ghost, {"read", "", "", ""}, false, "roles: none"},
      {"unknown role in identity",
       {"x", "token", {"nope"}, false},
       {"read", "", "", ""},
       false,
       ""},
  };
  for (const auto& c : cases) {
    auto d = p.allows(c.who, c.what);
    EXPECT_EQ(d.allowed, c.allowed) << c.name << ": " << d.reason;
    EXPECT_NE(d.reason.find(c.reason_contains), std::string::npos) << c.name << ": " << d.reason;
  }
  EXPECT_EQ(p.allows(ghost, {"read", "", "", ""}).reason, "ghost (roles: none) may not do 'read'");
}

TEST(Policy, AnEmptyPolicyDeniesEverything) {
  auto p = policy::parse("{}", words);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->allows({"root", "token", {"admin"}, true}, {"read", "", "", ""}).allowed);
}

TEST(Policy, RefusesBadDocumentsNamingThePlace) {
  auto digest = sha256_hex("t");
  const std::pair<std::string, const char*> cases[] = {
      {"[", "not valid JSON"},
      {"[]", "the policy must be an object"},
      {R"({"rules": {}})", "unknown field 'rules'"},
      {R"({"roles": []})", "roles must be an object"},
      {R"({"roles": {"r": {}}})", "roles.r must be a list"},
      {R"({"roles": {"r": [{}]}})", "roles.r[0] needs 'actions'"},
      {R"({"roles": {"r": [{"actions": []}]}})", "roles.r[0].actions must be a non-empty"},
      {R"({"roles": {"r": [{"actions": ["reimgae"]}]}})", "unknown action 'reimgae'"},
      {R"({"roles": {"r": [{"actions": ["read"], "classes": ["vip"]}]}})",
       "unknown priority class 'vip'"},
      {R"({"roles": {"r": [{"actions": ["read"], "site": ["a"]}]}})", "unknown field 'site'"},
      {R"({"roles": {"r": [{"actions": [1]}]}})", "list of strings"},
      {R"({"accounts": {"a": {"roles": []}}})", "accounts.a needs 'token_sha256'"},
      {R"({"accounts": {"a": {"token_sha256": "abc", "roles": ["r"]}}})", "64 hex digits"},
      {R"({"accounts": {"a": {"token_sha256": ")" + digest + R"("}}})", "needs 'roles'"},
      {R"({"accounts": {"a": {"token_sha256": ")" + digest + R"(", "roles": ["r"]}}})",
       "unknown role 'r'"},
      {R"({"roles": {"r": [{"actions": ["read"]}]}, "accounts": {"a": {"token_sha256": ")" +
           digest + R"(", "roles": ["r"], "type": "root"}}})",
       "accounts.a.type must be"},
      {R"({"roles": {"r": [{"actions": ["read"]}]}, "accounts": {"a": {"token_sha256": ")" +
           digest + R"(", "roles": ["r"]}, "b": {"token_sha256": ")" + digest +
           R"(", "roles": ["r"]}}})",
       "same token as another account"},
      {R"({"groups": {"g": ["nope"]}})", "groups.g names an unknown role 'nope'"},
  };
  for (const auto& [text, expected] : cases) {
    auto p = policy::parse(text, words, "p.json");
    ASSERT_FALSE(p) << text;
    EXPECT_TRUE(is(p.error(), errc::bad_config));
    auto msg = message_of(p.error());
    EXPECT_NE(msg.find(expected), std::string::npos) << text << " → " << msg;
    EXPECT_NE(msg.find("p.json: "), std::string::npos) << msg;
  }
}

TEST(Policy, LoadNamesAMissingFile) {
  auto p = policy::load("/nonexistent/policy.json", words);
  ASSERT_FALSE(p);
  EXPECT_NE(message_of(p.error()).find("/nonexistent/policy.json"), std::string::npos);
}

}  // namespace
}  // namespace ab::auth

namespace ab::auth {
namespace {

TEST(Policy, TheSamplePolicyFileIsValidForTheNodesActions) {
  vocabulary node_words;
  for (const auto& [action, steps] : lifecycle::workflows()) node_words.actions.push_back(action);
  node_words.classes = {"maas", "user", "organic"};
  auto p = policy::load(std::string{AB_SOURCE_DIR} + "/config/policy.sample.json", node_words);
  ASSERT_TRUE(p) << message_of(p.error());
  const auto* maas = p->find_account(sha256_hex("test"));
  ASSERT_NE(maas, nullptr);
  EXPECT_TRUE(
      p->allows({maas->name, "token", maas->roles, maas->maas}, {"build", "dc1", "r1-01", "maas"})
          .allowed);
  identity admin{"root", "directory", p->roles_of_groups({"fleet-admins"}), false};
  EXPECT_TRUE(p->allows(admin, {"wipe", "dc9", "db-1", "user"}).allowed);
  EXPECT_FALSE(p->allows(admin, {"wipe", "dc9", "db-1", "maas"}).allowed);
  // Prometheus's account reads the metrics and nothing else.
  const auto* scraper = p->find_account(sha256_hex("test3"));
  ASSERT_NE(scraper, nullptr);
  identity prometheus{scraper->name, "token", scraper->roles, false};
  EXPECT_TRUE(p->allows(prometheus, {"metrics.read", "", "", ""}).allowed);
  EXPECT_FALSE(p->allows(prometheus, {"read", "dc1", "", ""}).allowed);
}

TEST(Policy, TheReadScopeCoversOnlyTheSitesAndHostsOfReadGrants) {
  auto p = sample_policy();
  identity ci{"ci-bot", "token", {"provisioner"}, false};
  auto read = p.scope_of(ci, "read");
  EXPECT_FALSE(read.empty());
  EXPECT_TRUE(read.covers("east-1", "db-1"));
  EXPECT_FALSE(read.covers("west-1", "db-1"));
  EXPECT_TRUE(read.covers_site("east-2"));
  EXPECT_FALSE(read.covers_site("lab"));
  EXPECT_EQ(read.sites(), std::nullopt) << "east-* is a pattern: not pushed into the store";
  EXPECT_TRUE(read.all_hosts());
  EXPECT_TRUE(p.scope_of(ci, "wipe").empty());
  identity op{"olga", "directory", {"operator"}, false};
  auto any = p.scope_of(op, "");
  EXPECT_TRUE(any.covers("lab", "db-1")) << "hosts.write at lab";
  EXPECT_TRUE(any.covers("east-1", "web-1")) << "power_* on web-*";
  EXPECT_FALSE(any.covers("east-1", "db-1")) << "no grant of any action reaches it";
}

TEST(Policy, AScopeOfLiteralSitesNamesThemAndHostPatternsNarrowIt) {
  auto p = sample_policy();
  identity op{"olga", "directory", {"operator"}, false};
  auto read = p.scope_of(op, "read");
  EXPECT_TRUE(read.covers("anywhere", "web-7"));
  EXPECT_FALSE(read.covers("anywhere", "db-7"));
  EXPECT_FALSE(read.all_hosts());
  auto write = p.scope_of(op, "hosts.write");
  EXPECT_EQ(write.sites(), std::vector<std::string>{"lab"});
  EXPECT_TRUE(write.covers("lab", "db-7"));
  EXPECT_FALSE(write.covers("east-1", "db-7"));
  identity nobody{"x", "token", {}, false};
  EXPECT_TRUE(p.scope_of(nobody, "read").empty());
  EXPECT_FALSE(p.scope_of(nobody, "read").covers("lab", "web-1"));
  EXPECT_TRUE(scope::everything().covers("any", "thing"));
  EXPECT_TRUE(scope::everything().covers_all());
  EXPECT_FALSE(read.covers_all());
  EXPECT_TRUE(p.scope_of({"a", "directory", {"auditor"}, false}, "read").covers_all());
  EXPECT_EQ(scope::everything().sites(), std::nullopt);
}

}  // namespace
}  // namespace ab::auth
