// A submission the host's BMC cannot carry out is refused before anything is stored: by what
// the endpoint's driver can ever do, and by what the host's discovery found on its BMC.

#include "core/error.hpp"
#include "node/bmc_access.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {
namespace {

class ApiBmcCapabilities : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-caps-");
    // The node's own wiring: its drivers by endpoint, and the hosts' discovery facts.
    config::node_config cfg;
    cfg.credentials_dir = (dir_ / "credentials").string();
    auto access = node::make_bmc_access(cfg, true);
    ASSERT_TRUE(access) << message_of(access.error());
    start(2, 64, [a = *access](net::api_options& o) {
      lifecycle::rules_options r;
      r.capabilities = [a](const storage::host_record& h) { return node::host_capabilities(a, h); };
      o.rules = std::make_shared<const lifecycle::rules>(r);
    });
  }
  void TearDown() override {
    Api::TearDown();
    std::filesystem::remove_all(dir_);
  }

  /// Registers `name` at `endpoint` and puts it in lifecycle state `state`.
  void host_at(const std::string& name, const std::string& endpoint, const std::string& state) {
    json h{
        {"name", name}, {"site", "dc1"}, {"bmc_endpoint", endpoint}, {"credential_ref", "file:x"}};
    ASSERT_EQ(call("POST", "/v1/hosts", json{{"hosts", {h}}}.dump()).status, 201);
    ASSERT_FALSE(db_->hooks().set_host_state(name, "", state));
  }

  /// The requests stored, through the API.
  std::size_t stored() { return json::parse(call("GET", "/v1/requests").body)["requests"].size(); }

  std::filesystem::path dir_;
};

TEST_F(ApiBmcCapabilities, AReimageOfAnIpmiHostIsRefusedAtSubmissionAndNothingIsStored) {
  host_at("r1-01", "ipmi://10.0.0.5", "in_service");
  auto r = call("POST", "/v1/requests", R"({"action":"reimage","host":"r1-01"})");
  EXPECT_EQ(r.status, 422) << r.body;
  auto error = json::parse(r.body)["error"];
  EXPECT_EQ(error["code"], "unsupported_by_bmc");
  auto message = error["message"].get<std::string>();
  EXPECT_NE(message.find("host 'r1-01'"), std::string::npos) << message;
  EXPECT_NE(message.find("media"), std::string::npos) << message;
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/r1-01").body)["lifecycle_state"], "in_service")
      << "nothing was powered off, nothing moved";
  // What IPMI can do is accepted.
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"power_off","host":"r1-01"})").status, 202);
}

TEST_F(ApiBmcCapabilities, ABulkSubmissionWithOneHostItsBmcCannotServeIsRefusedAsAWhole) {
  host_at("rf-1", "https://10.0.0.6", "in_service");
  host_at("ip-1", "ipmi://10.0.0.7", "in_service");
  auto r = call("POST", "/v1/requests", R"({"action":"wipe","hosts":["rf-1","ip-1"]})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("ip-1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("erase"), std::string::npos) << r.body;
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/rf-1").body)["lifecycle_state"], "in_service");
}

TEST_F(ApiBmcCapabilities, WhatDiscoveryFoundMissingOnARedfishBmcRefinesTheCheck) {
  host_at("r1-02", "https://10.0.0.8", "in_service");
  // Discovery found no virtual CD on this BMC (its facts, as the record_facts step stores them).
  ASSERT_FALSE(
      (*db_)->set_host_facts("r1-02", R"({"manufacturer":"Contoso","bmc_lacks":["media"]})"));
  auto r = call("POST", "/v1/requests", R"({"action":"reimage","host":"r1-02"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unsupported_by_bmc");
  EXPECT_EQ(stored(), 0u);
  // The rest of what Redfish offers is still there.
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"wipe","host":"r1-02"})").status, 202);
}

TEST_F(ApiBmcCapabilities, ADiscoveryThatFindsTheMediaAgainLiftsTheRefusal) {
  host_at("r1-03", "https://10.0.0.10", "in_service");
  ASSERT_FALSE((*db_)->set_host_facts("r1-03", R"({"bmc_lacks":["media"]})"));
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"reimage","host":"r1-03"})").status, 422);
  ASSERT_FALSE((*db_)->set_host_facts("r1-03", R"({"bmc_lacks":[]})"));
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"reimage","host":"r1-03"})").status, 202);
}

TEST_F(ApiBmcCapabilities, ARedfishHostWithoutFindingsMayBeReimaged) {
  host_at("r1-04", "https://10.0.0.9", "in_service");
  auto r = call("POST", "/v1/requests", R"({"action":"reimage","host":"r1-04"})");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/r1-04").body)["lifecycle_state"], "provisioning");
}

}  // namespace
}  // namespace ab::testing
