// Sites as a security boundary, over real HTTP: what a caller may not see answers as if it did
// not exist, registering a host again changes no more than PATCH may, a host does not change
// under an active request, and idempotency keys belong to their submitter.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

namespace {

const std::string admin = "Authorization: Bearer admin-token\r\n";
const std::string east = "Authorization: Bearer east-token\r\n";
const std::string reader = "Authorization: Bearer reader-token\r\n";
const std::string writer = "Authorization: Bearer writer-token\r\n";

std::string account(const std::string& name, const std::string& token, const std::string& role) {
  return "\"" + name + R"(": {"token_sha256": ")" + auth::sha256_hex(token) + R"(", "roles": [")" +
         role + "\"]}";
}

std::string policy_text() {
  return "{\"accounts\": {" + account("admin", "admin-token", "admin") + ", " +
         account("east", "east-token", "east") + ", " +
         account("reader", "reader-token", "web-reader") + ", " +
         account("writer", "writer-token", "dc1-writer") + R"(},
    "roles": {
      "admin": [{"actions": ["read", "hosts.write", "power_on", "reimage", "cancel"]}],
      "east": [{"actions": ["read", "hosts.write", "power_on", "reimage", "cancel"],
                "sites": ["dc1"]}],
      "web-reader": [{"actions": ["read"], "hosts": ["web-*"]}],
      "dc1-writer": [{"actions": ["hosts.write"], "sites": ["dc1"]}, {"actions": ["read"]}]
    }})";
}

/// `text` with every `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

class ApiSites : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-sites-");
    auto o = policy_options(dir_, policy_text());
    auto a = auth::authenticator::open(std::move(o));
    ASSERT_TRUE(a) << message_of(a.error());
    auth_ = std::move(*a);
    start(2, 64, [this](net::api_options& opts) { opts.auth = auth_; });
  }
  void TearDown() override {
    Api::TearDown();
    std::filesystem::remove_all(dir_);
  }

  std::int64_t submit(const std::string& body, const std::string& who,
                      const std::string& headers = "") {
    auto r = call("POST", "/v1/requests", body, who + headers);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? json::parse(r.body)["requests"][0]["id"].get<std::int64_t>() : 0;
  }

  static std::string host_body(const std::string& name, const std::string& site,
                               const std::string& endpoint = "") {
    return json{{"name", name},
                {"site", site},
                {"bmc_endpoint", endpoint.empty() ? "https://bmc-" + name : endpoint},
                {"credential_ref", "env:AB_BMC_" + name}}
        .dump();
  }

  std::filesystem::path dir_;
  std::shared_ptr<auth::authenticator> auth_;
};

}  // namespace

TEST_F(ApiSites, RegisteringAHostOfAnotherSiteAgainNeedsTheRightOnThatSite) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc2"), admin).status, 201);
  // east may neither see nor write dc2: it learns only that the name is taken.
  auto blind = call("POST", "/v1/hosts", host_body("h1", "dc1"), east);
  EXPECT_EQ(blind.status, 409) << blind.body;
  EXPECT_EQ(json::parse(blind.body)["error"]["code"], "name_taken");
  EXPECT_EQ(blind.body.find("dc2"), std::string::npos) << blind.body;
  // writer may read dc2 but write only dc1: refused as a PATCH moving it would be.
  auto seen = call("POST", "/v1/hosts", host_body("h1", "dc1", "https://mine"), writer);
  EXPECT_EQ(seen.status, 403) << seen.body;
  auto h = json::parse(call("GET", "/v1/hosts/h1", "", admin).body);
  EXPECT_EQ(h["site"], "dc2");
  EXPECT_EQ(h["bmc_endpoint"], "https://bmc-h1");
  EXPECT_EQ(call("POST", "/v1/hosts", host_body("h2", "dc1"), writer).status, 201);
}

TEST_F(ApiSites, RegisteringAKnownHostAgainKeepsItsLifecycleStateAndFacts) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201);
  ASSERT_FALSE(db_->hooks().set_host_state("h1", "", "decommissioned"));
  ASSERT_FALSE((*db_)->set_host_facts("h1", R"({"serial":"X1"})"));
  auto again = call("POST", "/v1/hosts", host_body("h1", "dc1", "https://10.9.9.9"), admin);
  ASSERT_EQ(again.status, 201) << again.body;
  auto h = json::parse(call("GET", "/v1/hosts/h1", "", admin).body);
  EXPECT_EQ(h["lifecycle_state"], "decommissioned") << "not revived as new";
  EXPECT_EQ(h["facts"]["serial"], "X1");
  EXPECT_EQ(h["bmc_endpoint"], "https://10.9.9.9");
}

TEST_F(ApiSites, ListsShowOnlyWhatTheCallerMayRead) {
  for (const auto& [name, site] : std::vector<std::pair<std::string, std::string>>{
           {"a1", "dc1"}, {"web-1", "dc1"}, {"b1", "dc2"}, {"web-2", "dc2"}, {"web-3", "dc2"}})
    ASSERT_EQ(call("POST", "/v1/hosts", host_body(name, site), admin).status, 201);
  for (const auto* h : {"a1", "web-1", "b1", "web-2", "web-3"})
    submit(std::string{R"({"action":"power_on","host":")"} + h + "\"}", admin);

  auto hosts_of = [](const json& list, const char* key, const char* field) {
    std::set<std::string> out;
    for (const auto& x : list[key]) out.insert(x[field].get<std::string>());
    return out;
  };
  auto mine = json::parse(call("GET", "/v1/requests", "", east).body);
  EXPECT_EQ(hosts_of(mine, "requests", "host"), (std::set<std::string>{"a1", "web-1"}));
  EXPECT_TRUE(json::parse(call("GET", "/v1/requests?site=dc2", "", east).body)["requests"].empty());
  auto hosts = json::parse(call("GET", "/v1/hosts", "", east).body);
  EXPECT_EQ(hosts_of(hosts, "hosts", "name"), (std::set<std::string>{"a1", "web-1"}));

  // Host patterns are applied page by page: every page is full and the cursor exact.
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto r = json::parse(call("GET",
                              "/v1/requests?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor),
                              "", reader)
                             .body);
    for (const auto& x : r["requests"]) seen.insert(x["host"].get<std::string>());
    if (!r.contains("next_cursor")) break;
    EXPECT_EQ(r["requests"].size(), 2u);
    cursor = r["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(seen, (std::set<std::string>{"web-1", "web-2", "web-3"}));
  auto first = json::parse(call("GET", "/v1/hosts?limit=2", "", reader).body);
  EXPECT_EQ(hosts_of(first, "hosts", "name"), (std::set<std::string>{"web-1", "web-2"}));
  ASSERT_TRUE(first.contains("next_after")) << first.dump();
  auto rest = json::parse(
      call("GET", "/v1/hosts?limit=2&after=" + first["next_after"].get<std::string>(), "", reader)
          .body);
  EXPECT_EQ(hosts_of(rest, "hosts", "name"), (std::set<std::string>{"web-3"}));
  EXPECT_FALSE(rest.contains("next_after"));
}

TEST_F(ApiSites, AHostOrRequestOutsideTheGrantsAnswersAsOneThatDoesNotExist) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("b1", "dc2"), admin).status, 201);
  auto id = std::to_string(submit(R"({"action":"power_on","host":"b1"})", admin));
  const std::string none = "999999";
  struct probe {
    const char* method;
    std::string hidden, missing, body;
  };
  const std::vector<probe> probes{
      {"GET", "/v1/requests/" + id, "/v1/requests/" + none, ""},
      {"POST", "/v1/requests/" + id + "/cancel", "/v1/requests/" + none + "/cancel", ""},
      {"GET", "/v1/hosts/b1", "/v1/hosts/zz", ""},
      {"PATCH", "/v1/hosts/b1", "/v1/hosts/zz", R"({"site":"dc1"})"},
      {"DELETE", "/v1/hosts/b1", "/v1/hosts/zz", ""},
  };
  for (const auto& p : probes) {
    auto hidden = call(p.method, p.hidden, p.body, east);
    auto missing = call(p.method, p.missing, p.body, east);
    EXPECT_EQ(hidden.status, 404) << p.method << " " << p.hidden << ": " << hidden.body;
    EXPECT_EQ(hidden.status, missing.status) << p.method << " " << p.hidden;
    auto expected = p.hidden.find("hosts") != std::string::npos ? replaced(missing.body, "zz", "b1")
                                                                : replaced(missing.body, none, id);
    EXPECT_EQ(hidden.body, expected) << p.method << " " << p.hidden;
  }
  // Nothing changed behind the 404s.
  EXPECT_EQ(json::parse(call("GET", "/v1/requests/" + id, "", admin).body)["state"], "queued");
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/b1", "", admin).body)["site"], "dc2");
}

TEST_F(ApiSites, ASubmissionForAHostOutsideTheGrantsAnswersAsForAnUnknownHost) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("b1", "dc2"), admin).status, 201);
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("a1", "dc1"), admin).status, 201);
  auto hidden = call("POST", "/v1/requests", R"({"action":"power_on","host":"b1"})", east);
  auto unknown = call("POST", "/v1/requests", R"({"action":"power_on","host":"zz"})", east);
  EXPECT_EQ(hidden.status, 422) << hidden.body;
  EXPECT_EQ(hidden.status, unknown.status);
  EXPECT_EQ(hidden.body, replaced(unknown.body, "zz", "b1"));
  auto bulk = call("POST", "/v1/requests", R"({"action":"power_on","hosts":["a1","b1"]})", east);
  EXPECT_EQ(bulk.status, 422) << "all or nothing: " << bulk.body;
  EXPECT_TRUE(json::parse(call("GET", "/v1/requests", "", admin).body)["requests"].empty());
}

TEST_F(ApiSites, ASiteEndpointOrCredentialChangeDuringAnActiveRequestIsRefused) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201);
  auto id = submit(R"({"action":"power_on","host":"h1"})", admin);
  for (const auto* patch : {R"({"bmc_endpoint":"https://elsewhere"})",
                            R"({"credential_ref":"env:AB_BMC_other"})", R"({"site":"dc2"})"}) {
    auto r = call("PATCH", "/v1/hosts/h1", patch, admin);
    EXPECT_EQ(r.status, 409) << patch << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "host_busy") << r.body;
  }
  auto again = call("POST", "/v1/hosts", host_body("h1", "dc1", "https://elsewhere"), admin);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201)
      << "the same record again changes nothing";
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/h1", "", admin).body)["bmc_endpoint"],
            "https://bmc-h1");
  ASSERT_EQ(call("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "", admin).status, 200);
  EXPECT_EQ(call("PATCH", "/v1/hosts/h1", R"({"bmc_endpoint":"https://elsewhere"})", admin).status,
            200);
}

TEST_F(ApiSites, IdempotencyKeysOfOneSubmitterNeitherReturnNorBlockAnothers) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201);
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h2", "dc1"), admin).status, 201);
  const std::string key = "Idempotency-Key: shared-42\r\n";
  auto theirs = submit(R"({"action":"power_on","host":"h1"})", admin, key);
  ASSERT_EQ(call("POST", "/v1/requests/" + std::to_string(theirs) + "/cancel", "", admin).status,
            200);
  // Same key, same body: east gets a request of its own, not admin's.
  auto mine = submit(R"({"action":"power_on","host":"h1"})", east, key);
  EXPECT_NE(mine, theirs);
  EXPECT_EQ(
      json::parse(call("GET", "/v1/requests/" + std::to_string(mine), "", east).body)["submitter"],
      "east");
  // Same key, another body: not a conflict with admin's use of it.
  auto other = call("POST", "/v1/requests", R"({"action":"reimage","host":"h2"})", east + key);
  EXPECT_EQ(other.status, 202) << other.body;
  auto admins = call("POST", "/v1/requests", R"({"action":"power_on","host":"h1"})", admin + key);
  ASSERT_EQ(admins.status, 202) << admins.body;
  EXPECT_EQ(json::parse(admins.body)["requests"][0]["id"], theirs) << "admin's key still answers";
}

TEST_F(ApiSites, AnExplicitDefaultPriorityIsTheSameCallAsNone) {
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201);
  const std::string key = "Idempotency-Key: k-7\r\n";
  auto id = submit(R"({"action":"power_on","host":"h1","params":{"a":1,"b":2}})", admin, key);
  for (const auto* same :
       {R"({"action":"power_on","host":"h1","priority":"user","params":{"b":2,"a":1}})",
        R"({"params":{"a":1,"b":2},"hosts":["h1"],"action":"power_on"})"}) {
    auto r = call("POST", "/v1/requests", same, admin + key);
    ASSERT_EQ(r.status, 202) << same << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["requests"][0]["id"], id) << same;
  }
  auto changed = call("POST", "/v1/requests",
                      R"({"action":"power_on","host":"h1","priority":"organic"})", admin + key);
  EXPECT_EQ(changed.status, 409) << changed.body;
}

TEST_F(ApiSites, BadSiteAndHostNamesAreRefusedWithoutBeingEchoedRaw) {
  auto bidi = call("POST", "/v1/hosts", host_body("h1", "dc\u202e1"), admin);
  EXPECT_EQ(bidi.status, 400) << bidi.body;
  EXPECT_EQ(json::parse(bidi.body)["error"]["code"], "invalid_site");
  EXPECT_EQ(bidi.body.find("\u202e"), std::string::npos) << "the mark is shown escaped";
  EXPECT_EQ(call("POST", "/v1/hosts", host_body("..", "dc1"), admin).status, 400);
  EXPECT_EQ(call("POST", "/v1/hosts", host_body("h\u200b1", "dc1"), admin).status, 400);
  EXPECT_EQ(call("GET", "/v1/requests?site=DC1", "", admin).status, 400);
  EXPECT_EQ(call("GET", "/v1/requests?host=a%0Ab", "", admin).status, 400);
  EXPECT_EQ(call("GET", "/v1/hosts?site=%E2%80%AEdc", "", admin).status, 400);
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"power_on","host":"."})", admin).status, 400);
  ASSERT_EQ(call("POST", "/v1/hosts", host_body("h1", "dc1"), admin).status, 201);
  EXPECT_EQ(call("PATCH", "/v1/hosts/h1", R"({"site":"dc 1"})", admin).status, 400);
}

}  // namespace ab::testing
