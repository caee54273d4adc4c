// Who may call the API and what they may do: bearer tokens, directory logins, the policy,
// the audit trail, and the installer callback's one-time tokens — over real HTTP.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/wait.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

namespace {

const std::string bearer_maas = "Authorization: Bearer maas-token\r\n";
const std::string bearer_ci = "Authorization: Bearer ci-token\r\n";
// base64 of alice:pw, audrey:pw and alice:wrong
const std::string basic_alice = "Authorization: Basic YWxpY2U6cHc=\r\n";
const std::string basic_audrey = "Authorization: Basic YXVkcmV5OnB3\r\n";
const std::string basic_wrong = "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n";

std::string policy_text() {
  return R"({
    "accounts": {
      "maas-east": {"token_sha256": ")" +
         auth::sha256_hex("maas-token") + R"(", "roles": ["provisioner"], "type": "maas"},
      "ci": {"token_sha256": ")" +
         auth::sha256_hex("ci-token") + R"(", "roles": ["provisioner"]}
    },
    "groups": {"ops": ["operator"], "auditors": ["auditor"]},
    "roles": {
      "provisioner": [{"actions": ["build", "reimage", "read"], "sites": ["dc1"], "classes": ["maas", "user"]}],
      "operator": [{"actions": ["power_on", "power_off", "reimage", "cancel", "read"], "hosts": ["web-*"], "classes": ["user"]},
                   {"actions": ["hosts.write"]}],
      "auditor": [{"actions": ["read", "audit.read"]}]
    }
  })";
}

class ApiAuth : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-auth-");
    auto o = policy_options(dir_, policy_text());
    o.directory = [](const std::string& login,
                     const std::string& password) -> caf::expected<auth::directory_user> {
      if (password != "pw") return make_error(errc::unauthenticated, "invalid login or password");
      if (login == "alice") return auth::directory_user{"alice", "uid=alice", {"ops"}};
      if (login == "audrey") return auth::directory_user{"audrey", "uid=audrey", {"auditors"}};
      return make_error(errc::unauthenticated, "invalid login or password");
    };
    auto a = auth::authenticator::open(std::move(o));
    ASSERT_TRUE(a) << message_of(a.error());
    auth_ = std::move(*a);
    start(2, 64, [this](net::api_options& opts) {
      opts.auth = auth_;
      audit_ = std::make_shared<net::audit_trail>(
          std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}),
          std::chrono::milliseconds{10});
      opts.audit = audit_;
    });
  }
  void TearDown() override {
    // The audit trail writes to the store until it is gone: stop the API, then the trail.
    if (server_) server_->stop();
    api_.reset();
    audit_.reset();
    Api::TearDown();
    std::filesystem::remove_all(dir_);
  }

  std::int64_t submit(const std::string& body, const std::string& who) {
    auto r = call("POST", "/v1/requests", body, who);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.status == 202 ? json::parse(r.body)["requests"][0]["id"].get<std::int64_t>() : 0;
  }

  /// The audit trail as the auditor reads it through the API, once written.
  json audit_entries(const std::string& query = "") {
    audit_->flush();
    auto r = call("GET", "/v1/audit" + query, "", basic_audrey);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }

  std::filesystem::path dir_;
  std::shared_ptr<auth::authenticator> auth_;
  std::shared_ptr<net::audit_trail> audit_;
};

}  // namespace

TEST_F(ApiAuth, CallsWithoutGoodCredentialsAre401ButProbesAreOpen) {
  for (const auto& headers : {std::string{}, std::string{"Authorization: Bearer nope\r\n"},
                              basic_wrong, std::string{"Authorization: Digest x\r\n"}}) {
    auto r = call("GET", "/v1/requests", "", headers);
    EXPECT_EQ(r.status, 401) << headers;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "unauthenticated");
    EXPECT_NE(r.headers.find("WWW-Authenticate: Bearer"), std::string::npos) << r.headers;
  }
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_EQ(call("GET", "/v1/requests", "", bearer_ci).status, 200);
}

TEST_F(ApiAuth, ServiceAccountsSubmitWithinTheirGrantsAndOnlyMaasAccountsUseTheMaasClass) {
  register_hosts({"web-1", "web-2", "web-3"}, "dc1", basic_alice);
  register_hosts({"far-1"}, "dc2", basic_alice);
  auto id = submit(R"({"action":"reimage","host":"web-1","priority":"user"})", bearer_ci);
  auto maas = call("POST", "/v1/requests",
                   R"({"action":"reimage","host":"web-2","priority":"maas"})", bearer_ci);
  EXPECT_EQ(maas.status, 403);
  EXPECT_NE(json::parse(maas.body)["error"]["message"].get<std::string>().find("reserved"),
            std::string::npos);
  submit(R"({"action":"build","host":"web-2","priority":"maas"})", bearer_maas);
  auto wipe = call("POST", "/v1/requests", R"({"action":"wipe","host":"web-3"})", bearer_ci);
  EXPECT_EQ(wipe.status, 403) << "wipe is not granted";
  // No grant of ci reaches dc2: its host answers as one not in the inventory.
  auto other_site =
      call("POST", "/v1/requests", R"({"action":"reimage","host":"far-1"})", bearer_ci);
  EXPECT_EQ(other_site.status, 422);
  EXPECT_EQ(other_site.body.find("dc2"), std::string::npos) << other_site.body;
  auto mixed =
      call("POST", "/v1/requests", R"({"action":"reimage","hosts":["web-3","far-1"]})", bearer_ci);
  EXPECT_EQ(mixed.status, 422) << "one host outside the grants refuses the whole submission";
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/web-3", "", bearer_ci).body).value("name", ""),
            "web-3");
  auto list = json::parse(call("GET", "/v1/requests", "", bearer_ci).body);
  EXPECT_EQ(list["requests"].size(), 2u) << "nothing of the refused submissions was stored";
  auto r = json::parse(call("GET", "/v1/requests/" + std::to_string(id), "", bearer_ci).body);
  EXPECT_EQ(r["submitter"], "ci");
}

TEST_F(ApiAuth, DirectoryUsersActThroughTheirGroupsRoles) {
  register_hosts({"web-1", "db-1"}, "dc1", basic_alice);
  auto id = submit(R"({"action":"power_off","host":"web-1"})", basic_alice);
  EXPECT_EQ(
      call("POST", "/v1/requests", R"({"action":"power_off","host":"db-1"})", basic_alice).status,
      403)
      << "host pattern web-*";
  EXPECT_EQ(call("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "", basic_audrey).status,
            403)
      << "auditors may not cancel";
  EXPECT_EQ(call("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "", basic_alice).status,
            200);
  EXPECT_EQ(call("PATCH", "/v1/hosts/db-1", R"({"site":"dc2"})", basic_audrey).status, 403);
  EXPECT_EQ(call("DELETE", "/v1/hosts/db-1", "", basic_alice).status, 204);
  EXPECT_EQ(call("GET", "/v1/audit", "", basic_alice).status, 403)
      << "only auditors read the trail";
  EXPECT_EQ(call("POST", "/v1/hosts",
                 R"({"name":"x","site":"dc1","bmc_endpoint":"https://b","credential_ref":"c"})",
                 bearer_ci)
                .status,
            403)
      << "the provisioner role has no hosts.write";
}

TEST_F(ApiAuth, EveryCallButTheProbesIsAuditedWithWhoWhereWhatAndTheDecision) {
  register_hosts({"web-1"}, "dc1", basic_alice);
  auto id = submit(R"({"action":"reimage","host":"web-1"})", bearer_ci);
  call("POST", "/v1/requests", R"({"action":"wipe","host":"web-1"})", bearer_ci);
  call("GET", "/v1/requests", "", "Authorization: Bearer stolen\r\n");
  call("GET", "/healthz");
  auto trail = audit_entries();
  auto entries = trail["entries"];
  ASSERT_EQ(entries.size(), 4u) << trail.dump(1);
  // Newest first.
  EXPECT_EQ(entries[0]["actor"], "-");
  EXPECT_EQ(entries[0]["decision"], "denied");
  EXPECT_EQ(entries[0]["action"], "GET /v1/requests");
  EXPECT_EQ(entries[1]["actor"], "ci");
  EXPECT_EQ(entries[1]["action"], "POST /v1/requests wipe");
  EXPECT_EQ(entries[1]["decision"], "denied");
  EXPECT_NE(entries[1]["detail"].get<std::string>().find("403 forbidden"), std::string::npos);
  EXPECT_EQ(entries[2]["action"], "POST /v1/requests reimage");
  EXPECT_EQ(entries[2]["target"], "web-1");
  EXPECT_EQ(entries[2]["decision"], "accepted");
  EXPECT_EQ(entries[2]["detail"], "202 requests " + std::to_string(id));
  EXPECT_EQ(entries[2]["source"], "127.0.0.1");
  EXPECT_EQ(entries[3]["actor"], "alice");
  EXPECT_EQ(entries[3]["action"], "POST /v1/hosts");
  // Filters and the cursor.
  EXPECT_EQ(audit_entries("?actor=ci")["entries"].size(), 2u);
  auto page = audit_entries("?limit=2");
  ASSERT_EQ(page["entries"].size(), 2u);
  auto rest = audit_entries("?before=" + std::to_string(page["next"].get<std::int64_t>()));
  // The rest: two older entries plus the auditor's own reads of the trail.
  EXPECT_GE(rest["entries"].size(), 2u);
  EXPECT_EQ(call("GET", "/v1/audit?colour=red", "", basic_audrey).status, 400);
}

TEST_F(ApiAuth, TheInstallerCallbackWakesTheWaitingJobWithItsOneTimeToken) {
  register_hosts({"web-1"}, "dc1", basic_alice);
  auto id = submit(R"({"action":"reimage","host":"web-1"})", bearer_ci);
  auto& store = **db_;
  // Play the workflow's part: the first step issues a token and parks on its event.
  auto view = store.request(id);
  ASSERT_TRUE(view);
  auto jobs = store.claim("test", view->jobs[0].type, 1, 60000);
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  auto key = "install:" + std::to_string(id);
  auto token = auth::random_token();
  ASSERT_FALSE(
      store.issue_callback({id, auth::sha256_hex(token), key, system_clock{}.now() + 600000}));
  ASSERT_FALSE(
      store.park({jobs->at(0).id, jobs->at(0).lease_token}, key, system_clock{}.now() + 600000));

  auto path = "/v1/callbacks/" + std::to_string(id);
  const std::string ok_body =
      R"({"status":"succeeded","message":"installed","details":{"os":"debian-12"}})";
  EXPECT_EQ(call("POST", path, ok_body).status, 401) << "no token";
  EXPECT_EQ(call("POST", path, ok_body, "X-Callback-Token: guess\r\n").status, 401);
  EXPECT_EQ(call("POST", path, ok_body, bearer_ci).status, 401) << "accounts do not count";
  const std::string with_token = "X-Callback-Token: " + token + "\r\n";
  EXPECT_EQ(call("POST", path, R"({"status":"maybe"})", with_token).status, 400);
  EXPECT_EQ(call("POST", path, R"({"status":"failed","colour":1})", with_token).status, 400);
  EXPECT_EQ(call("POST", path, "not json", with_token).status, 400);
  EXPECT_EQ(call("POST", "/v1/callbacks/" + std::to_string(id + 1), ok_body, with_token).status,
            401);
  auto accepted = call("POST", path, ok_body, with_token);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_EQ(call("POST", path, ok_body, with_token).status, 401) << "one use only";

  auto woken = store.claim("test", view->jobs[0].type, 1, 60000);
  ASSERT_TRUE(woken);
  ASSERT_EQ(woken->size(), 1u);
  EXPECT_EQ(json::parse(woken->at(0).event)["details"]["os"], "debian-12");
  auto trail = audit_entries("?actor=installer");
  // Refused tokens are audited in aggregate: the first one, then a summary of the other four.
  ASSERT_EQ(trail["entries"].size(), 6u) << trail.dump(1);
  EXPECT_EQ(trail["entries"][0]["detail"].get<std::string>().rfind(
                "4 more refused callback tokens from 127.0.0.1 in ", 0),
            0u);
  EXPECT_EQ(trail["entries"][1]["decision"], "accepted") << trail.dump(1);
}

TEST_F(ApiAuth, AnOpenApiHasNoCredentialsButStillAudits) {
  server_->stop();
  api_.reset();
  audit_.reset();
  Api::TearDown();
  start(2, 64, [this](net::api_options& opts) {
    audit_ = std::make_shared<net::audit_trail>(
        std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}),
        std::chrono::milliseconds{10});
    opts.audit = audit_;
  });
  register_hosts({"h1"});
  auto r = call("POST", "/v1/requests", R"({"action":"power_on","host":"h1","priority":"maas"})");
  ASSERT_EQ(r.status, 202) << r.body;
  audit_->flush();
  auto entries = json::parse(call("GET", "/v1/audit").body)["entries"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["actor"], "anonymous");
}

}  // namespace ab::testing
