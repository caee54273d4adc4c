// A real ab-node under an access policy: bearer tokens over HTTP, the audit trail through the
// API, live policy reload on SIGHUP, and the refusal to serve an open API off loopback.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "harness/server_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/slapd.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

std::string policy(const std::string& ops_token) {
  return R"({"accounts": {
      "ops": {"token_sha256": ")" +
         auth::sha256_hex(ops_token) + R"(", "roles": ["operator"]},
      "audit": {"token_sha256": ")" +
         auth::sha256_hex("audit-token") + R"(", "roles": ["auditor"]}},
    "roles": {"operator": [{"actions": ["power_on", "power_off", "hosts.write", "read"], "sites": ["dc1"]}],
              "auditor": [{"actions": ["read", "audit.read"]}]}})";
}

class NodeAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab_node_auth_");
    // The hosts' credential (env:AB_BMC_B) must resolve on the node to be registered.
    ::setenv("AB_BMC_B", "admin:password", 1);
    write_policy("ops-token");
  }
  void TearDown() override {
    if (node_) {
      EXPECT_EQ(node_->terminate(), 0);
    }
    node_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  void write_policy(const std::string& token) {
    std::ofstream(dir_ / "policy.tmp") << policy(token);
    std::filesystem::rename(dir_ / "policy.tmp", dir_ / "policy.json");
  }
  std::vector<std::string> args(const std::string& listen) {
    return {"--store", "sqlite:" + (dir_ / "node.db").string(), "--listen", listen, "--site", "dc1",
            "--policy", (dir_ / "policy.json").string(),
            // Reload only on SIGHUP in this test.
            "--map-check-interval-ms", "3600000"};
  }
  http_answer call(const std::string& method, const std::string& path, const std::string& token,
                   const std::string& body = "") {
    return http_call(node_->port(), method, path, body,
                     token.empty() ? "" : "Authorization: Bearer " + token + "\r\n");
  }

  std::filesystem::path dir_;
  std::unique_ptr<harness::server_process> node_;
};

TEST_F(NodeAuth, TokensAreCheckedCallsAuditedAndThePolicyReloadedOnSighup) {
  node_ = std::make_unique<harness::server_process>(AB_NODE_BIN, args("127.0.0.1:0"),
                                                    (dir_ / "node.log").string());
  ASSERT_TRUE(node_->ok()) << node_->output();
  EXPECT_EQ(json::parse(call("GET", "/v1/node", "ops-token").body)["auth"], "policy");
  EXPECT_EQ(call("GET", "/v1/requests", "").status, 401);
  EXPECT_EQ(call("GET", "/v1/requests", "wrong").status, 401);
  auto reg = call(
      "POST", "/v1/hosts", "ops-token",
      R"({"name":"h1","site":"dc1","bmc_endpoint":"https://b1","credential_ref":"env:AB_BMC_B"})");
  ASSERT_EQ(reg.status, 201) << reg.body;
  auto sub = call("POST", "/v1/requests", "ops-token", R"({"action":"power_on","host":"h1"})");
  ASSERT_EQ(sub.status, 202) << sub.body;
  EXPECT_EQ(call("POST", "/v1/requests", "ops-token", R"({"action":"wipe","host":"h1"})").status,
            403);
  EXPECT_EQ(call("GET", "/v1/audit", "ops-token").status, 403);

  // The trail, as the auditor reads it once the writer has flushed.
  json entries;
  ASSERT_TRUE(wait_until([&] {
    entries = json::parse(call("GET", "/v1/audit?actor=ops", "audit-token").body)["entries"];
    return entries.size() >= 5;
  })) << entries.dump(1);
  EXPECT_EQ(entries[0]["action"], "GET /v1/audit");
  EXPECT_EQ(entries[0]["decision"], "denied");
  EXPECT_EQ(entries[1]["action"], "POST /v1/requests wipe");
  EXPECT_EQ(entries[1]["decision"], "denied");
  EXPECT_EQ(entries[2]["decision"], "accepted");
  EXPECT_EQ(entries[2]["source"], "127.0.0.1");
  auto unauthenticated =
      json::parse(call("GET", "/v1/audit?actor=-", "audit-token").body)["entries"];
  // Failed authentications are audited in aggregate: the first of the window as is; the count
  // of the rest is written when the window closes.
  ASSERT_EQ(unauthenticated.size(), 1u) << unauthenticated.dump(1);
  EXPECT_EQ(unauthenticated[0]["decision"], "denied");

  // Rotate the operator's token; SIGHUP makes the node read the policy again.
  write_policy("new-ops-token");
  node_->signal(SIGHUP);
  ASSERT_TRUE(
      wait_until([&] { return call("GET", "/v1/requests", "new-ops-token").status == 200; }));
  EXPECT_EQ(call("GET", "/v1/requests", "ops-token").status, 401);
  // A broken edit is refused; the node keeps the last good policy.
  std::ofstream(dir_ / "policy.json") << "{ not json";
  node_->signal(SIGHUP);
  ASSERT_TRUE(
      wait_until([&] { return node_->output().find("policy refused") != std::string::npos; }));
  EXPECT_EQ(call("GET", "/v1/requests", "new-ops-token").status, 200);
}

TEST_F(NodeAuth, EveryRouteAnswersOnARealNode) {
  node_ = std::make_unique<harness::server_process>(AB_NODE_BIN, args("127.0.0.1:0"),
                                                    (dir_ / "node.log").string());
  ASSERT_TRUE(node_->ok()) << node_->output();
  const std::string ops = "ops-token";
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(call("GET", "/readyz", "").status, 200);
  EXPECT_EQ(call("GET", "/v1/node", ops).status, 200);
  EXPECT_EQ(
      call(
          "POST", "/v1/hosts", ops,
          R"({"hosts":[{"name":"h1","site":"dc1","bmc_endpoint":"https://b1","credential_ref":"env:AB_BMC_B"},
                              {"name":"h2","site":"dc1","bmc_endpoint":"https://b2","credential_ref":"env:AB_BMC_B"}]})")
          .status,
      201);
  EXPECT_EQ(call("GET", "/v1/hosts", ops).status, 200);
  EXPECT_EQ(call("GET", "/v1/hosts/h1", ops).status, 200);
  EXPECT_EQ(call("PATCH", "/v1/hosts/h1", ops, R"({"bmc_endpoint":"https://b1.new"})").status, 200);
  EXPECT_EQ(call("DELETE", "/v1/hosts/h2", ops).status, 204);
  auto sub = call("POST", "/v1/requests", ops, R"({"action":"power_off","host":"h1"})");
  ASSERT_EQ(sub.status, 202) << sub.body;
  auto id = std::to_string(json::parse(sub.body)["requests"][0]["id"].get<std::int64_t>());
  EXPECT_EQ(call("GET", "/v1/requests", ops).status, 200);
  EXPECT_EQ(call("GET", "/v1/requests/" + id, ops).status, 200);
  // The operator role has no cancel; the node has no BMC handlers yet, so the request waits.
  EXPECT_EQ(call("POST", "/v1/requests/" + id + "/cancel", ops).status, 403);
  EXPECT_EQ(call("GET", "/v1/audit", "audit-token").status, 200);
  EXPECT_EQ(http_call(node_->port(), "POST", "/v1/callbacks/" + id, R"({"status":"succeeded"})",
                      "X-Callback-Token: not-issued\r\n")
                .status,
            401);
}

/// `Authorization: Basic` of `login:password`.
std::string basic(const std::string& credentials) {
  std::string out(4 * ((credentials.size() + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(credentials.data()),
                  static_cast<int>(credentials.size()));
  return "Authorization: Basic " + out + "\r\n";
}

TEST_F(NodeAuth, PeopleLogInThroughTheDirectoryOverTlsAndActThroughTheirGroups) {
  slapd_process directory({.tls = true});
  ASSERT_TRUE(directory.ok()) << directory.error();
  std::ofstream(dir_ / "policy.json") << R"({
    "groups": {"fleet-operators": ["operator"], "deployers": ["operator"]},
    "roles": {"operator": [{"actions": ["power_on", "hosts.write", "read"]}],
              "auditor": [{"actions": ["audit.read"]}]}})";
  json ldap{{"url", directory.ldaps_url()},
            {"ca_file", directory.ca_file()},
            {"bind_template", "uid={user},ou=people,dc=example,dc=org"},
            {"group_search_base", "ou=groups,dc=example,dc=org"},
            {"network_timeout_ms", 500},
            {"operation_timeout_ms", 500}};
  auto a = args("127.0.0.1:0");
  a.insert(a.end(), {"--ldap", ldap.dump()});
  node_ = std::make_unique<harness::server_process>(AB_NODE_BIN, a, (dir_ / "node.log").string());
  ASSERT_TRUE(node_->ok()) << node_->output();
  auto as = [&](const std::string& who, const std::string& method, const std::string& path,
                const std::string& body = "") {
    return http_call(node_->port(), method, path, body, basic(who));
  };
  EXPECT_EQ(as("alice:alice-secret", "GET", "/v1/requests").status, 200);
  EXPECT_EQ(
      as("alice:alice-secret", "POST", "/v1/hosts",
         R"({"name":"h1","site":"dc1","bmc_endpoint":"https://b","credential_ref":"env:AB_BMC_B"})")
          .status,
      201);
  EXPECT_EQ(as("alice:alice-secret", "POST", "/v1/requests", R"({"action":"power_on","host":"h1"})")
                .status,
            202);
  EXPECT_EQ(as("alice:wrong", "GET", "/v1/requests").status, 401);
  EXPECT_EQ(as("nobody:x", "GET", "/v1/requests").status, 401);
  EXPECT_EQ(as("bob:bob-secret", "GET", "/v1/requests").status, 403) << "bob has no group";
  EXPECT_EQ(as("alice:alice-secret", "GET", "/v1/audit").status, 403);
  // A directory that hangs: a login not in the cache is 503 (retry), not 401.
  directory.pause();
  auto hung = as("carol:carol-secret", "GET", "/v1/requests");
  EXPECT_EQ(hung.status, 503) << hung.body;
  EXPECT_NE(hung.headers.find("Retry-After"), std::string::npos);
  EXPECT_EQ(as("alice:alice-secret", "GET", "/v1/requests").status, 200)
      << "a cached login still works while the directory hangs";
  directory.resume();
  EXPECT_EQ(as("carol:carol-secret", "GET", "/v1/requests").status, 200);
}

TEST_F(NodeAuth, ANodeRefusesAnOpenApiOffLoopbackAndABadPolicy) {
  harness::server_process open(
      AB_NODE_BIN, {"--store", "sqlite:" + (dir_ / "open.db").string(), "--listen", "0.0.0.0:0"},
      (dir_ / "open.log").string());
  EXPECT_FALSE(open.ok());
  EXPECT_NE(open.output().find("refusing to serve an open API"), std::string::npos)
      << open.output();
  std::ofstream(dir_ / "policy.json") << R"({"roles": {"r": [{"actions": ["reboot"]}]}})";
  harness::server_process bad(AB_NODE_BIN, args("127.0.0.1:0"), (dir_ / "bad.log").string());
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.output().find("unknown action 'reboot'"), std::string::npos) << bad.output();
}

}  // namespace
}  // namespace ab::testing
