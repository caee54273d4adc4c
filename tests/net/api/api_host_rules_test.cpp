// POST /v1/hosts and PATCH /v1/hosts/{name} under the node's BMC rules: credentials only from
// the credential store, endpoints only of the kinds and places the node allows.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "node/bmc_access.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {
namespace {

namespace fs = std::filesystem;

class HostRules : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-host-rules-");
    std::ofstream(dir_ / "outside") << "root:outside-secret\n";
    ::chmod((dir_ / "outside").c_str(), 0600);
    ::setenv("AB_BMC_API_TEST", "admin:env-secret", 1);
    ::setenv("AB_API_TEST_FOREIGN", "admin:foreign-secret", 1);
  }
  void TearDown() override {
    Api::TearDown();
    fs::remove_all(dir_);
  }

  /// Starts the API with the node's host rules (`allow_loopback` as --bmc-allow-loopback).
  void start_with_rules(bool allow_loopback = false) {
    config::node_config cfg;
    cfg.credentials_dir = (dir_ / "credentials").string();
    cfg.bmc_allow_loopback = allow_loopback;
    auto access = node::make_bmc_access(cfg, true);
    ASSERT_TRUE(access) << message_of(access.error());
    write_credential("r1-01", "admin:file-secret", 0600);
    start(2, 64, [a = *access](net::api_options& o) {
      o.validate_host = [a](const storage::host_record& h) { return node::host_refusal(a, h); };
    });
  }

  void write_credential(const std::string& name, const std::string& text, mode_t mode) {
    auto path = dir_ / "credentials" / name;
    std::ofstream(path) << text << "\n";
    ::chmod(path.c_str(), mode);
  }

  static std::string host(const std::string& name, const std::string& endpoint,
                          const std::string& credential) {
    return json{
        {"name", name}, {"site", "dc1"}, {"bmc_endpoint", endpoint}, {"credential_ref", credential}}
        .dump();
  }

  /// POSTs one host and returns the answer.
  http_answer post(const std::string& endpoint, const std::string& credential,
                   const std::string& name = "h1") {
    return call("POST", "/v1/hosts", host(name, endpoint, credential));
  }

  fs::path dir_;
};

/// True if `body` quotes none of the secrets or paths the tests plant.
::testing::AssertionResult leaks_nothing(const std::string& body) {
  for (const auto* s : {"secret", "root", "/etc", "outside", "AB_API_TEST_FOREIGN", "HOME="})
    if (body.find(s) != std::string::npos)
      return ::testing::AssertionFailure() << "quotes '" << s << "': " << body;
  return ::testing::AssertionSuccess();
}

TEST_F(HostRules, RegistersAHostWhoseCredentialIsInTheStore) {
  start_with_rules();
  EXPECT_EQ(post("https://10.0.0.1", "file:r1-01").status, 201);
  EXPECT_EQ(post("https://10.0.0.2", "env:AB_BMC_API_TEST", "h2").status, 201);
}

TEST_F(HostRules, RefusesCredentialReferencesOutsideTheStoreWithoutLeaking) {
  start_with_rules();
  fs::create_symlink(dir_ / "outside", dir_ / "credentials" / "link");
  write_credential("group-readable", "admin:group-secret", 0640);
  for (const std::string& ref :
       {"file:" + (dir_ / "outside").string(), std::string{"file:/etc/shadow"},
        std::string{"file:../outside"}, std::string{"file:link"},
        std::string{"file:group-readable"}, std::string{"file:missing"}, std::string{"env:HOME"},
        std::string{"env:PATH"}, std::string{"env:AB_API_TEST_FOREIGN"},
        std::string{"env:AB_BMC_API_UNSET"}, std::string{"vault:secret/bmc"},
        std::string{"https://10.0.0.9/creds"}}) {
    auto a = post("https://10.0.0.1", ref);
    EXPECT_EQ(a.status, 422) << ref << ": " << a.body;
    EXPECT_EQ(json::parse(a.body)["error"]["code"], "invalid_host") << a.body;
    EXPECT_TRUE(leaks_nothing(a.body)) << ref;
  }
  // A foreign file that exists and one that does not answer alike.
  EXPECT_EQ(post("https://10.0.0.1", "file:" + (dir_ / "outside").string()).body,
            post("https://10.0.0.1", "file:/nonexistent/shadow").body);
  EXPECT_EQ(call("GET", "/v1/hosts/h1").status, 404) << "nothing was stored";
}

TEST_F(HostRules, RefusesBadEndpoints) {
  start_with_rules();
  for (const std::string& e :
       {std::string{"https://10.0.0.1\r\nX-Injected: 1"}, std::string{"https://10.0.0.1 x"},
        std::string{"ftp://10.0.0.1"}, std::string{"file:///etc/passwd"},
        std::string{"http://127.0.0.1:9000/bmc/h1"}, std::string{"https://localhost"},
        std::string{"https://169.254.169.254"}, std::string{"https://[fe80::1]"},
        std::string{"https://[::1]"}, std::string{"https://0.0.0.0"}}) {
    auto a = post(e, "file:r1-01");
    // An unknown scheme the request codec refuses first (400); the rest the node's rules.
    EXPECT_EQ(a.status, e.rfind("http", 0) == 0 ? 422 : 400) << e << ": " << a.body;
    EXPECT_NE(a.body.find("bmc_endpoint"), std::string::npos) << a.body;
  }
}

TEST_F(HostRules, AllowsLoopbackOnlyWithTheOption) {
  start_with_rules(true);
  EXPECT_EQ(post("http://127.0.0.1:9000/bmc/h1", "file:r1-01").status, 201);
  EXPECT_EQ(post("https://169.254.169.254", "file:r1-01", "h2").status, 422);
}

TEST_F(HostRules, RefusesTwoHostsNamingOneBmc) {
  start_with_rules();
  ASSERT_EQ(post("https://10.0.0.1", "file:r1-01", "h1").status, 201);
  // Re-registering the same host with its own endpoint is fine.
  EXPECT_EQ(post("https://10.0.0.1", "file:r1-01", "h1").status, 201);
  auto a = post("https://10.0.0.1", "file:r1-01", "h2");
  EXPECT_EQ(a.status, 409) << a.body;
  EXPECT_EQ(json::parse(a.body)["error"]["code"], "bmc_endpoint_taken") << a.body;
  EXPECT_NE(a.body.find("'h1'"), std::string::npos) << "names the host holding it: " << a.body;
  // Two in one batch: all or nothing.
  auto batch = call("POST", "/v1/hosts",
                    R"({"hosts":[)" + host("h3", "https://10.0.0.3", "file:r1-01") + "," +
                        host("h4", "https://10.0.0.3", "file:r1-01") + "]}");
  EXPECT_EQ(batch.status, 409) << batch.body;
  EXPECT_EQ(call("GET", "/v1/hosts/h3").status, 404);
  // PATCH onto another host's endpoint.
  ASSERT_EQ(post("https://10.0.0.2", "file:r1-01", "h2").status, 201);
  auto patched = call("PATCH", "/v1/hosts/h2", R"({"bmc_endpoint":"https://10.0.0.1"})");
  EXPECT_EQ(patched.status, 409) << patched.body;
}

TEST_F(HostRules, AppliesTheRulesToPatchedHosts) {
  start_with_rules();
  ASSERT_EQ(post("https://10.0.0.1", "file:r1-01").status, 201);
  for (const auto* body :
       {R"({"credential_ref":"file:/etc/shadow"})", R"({"credential_ref":"env:HOME"})",
        R"({"bmc_endpoint":"https://127.0.0.1"})",
        R"({"bmc_endpoint":"https://10.0.0.1/a\r\nb"})"}) {
    auto a = call("PATCH", "/v1/hosts/h1", body);
    EXPECT_EQ(a.status, 422) << body << ": " << a.body;
    EXPECT_TRUE(leaks_nothing(a.body));
  }
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/h1").body)["credential_ref"], "file:r1-01");
}

}  // namespace
}  // namespace ab::testing
