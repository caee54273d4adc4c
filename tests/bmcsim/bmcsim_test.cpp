// The simulated BMC fleet embedded in the test, spoken to over HTTP.

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bmcsim/fleet.hpp"
#include "core/error.hpp"
#include "tests/fakes/http_call.hpp"

namespace {

using ab::bmc::sim::fleet_options;
using ab::bmc::sim::fleet_server;
using ab::testing::http_answer;
using ab::testing::http_call;
using json = nlohmann::json;

/// admin:password.
const std::string basic = "Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\n";

/// Polls `done` every 20 ms for up to 5 s.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 250; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class Bmcsim : public ::testing::Test {
 protected:
  /// Starts a fleet with `o` on a free port.
  void start(fleet_options o) {
    ab::net::server_options s;
    s.port = 0;
    s.threads = 2;
    auto started = fleet_server::start(std::move(o), s);
    ASSERT_TRUE(started) << ab::message_of(started.error());
    server_ = std::move(*started);
  }

  void SetUp() override {
    fleet_options o;
    o.time_scale = 0.05;  // resets take 100-300 ms, an erase 1.5 s
    o.seed = 7;
    start(o);
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = basic) {
    return http_call(server_->port(), method, path, body, headers);
  }

  /// `GET path` with credentials, as JSON (null on a non-200 answer).
  json get(const std::string& path) {
    auto a = call("GET", path);
    return a.status == 200 ? json::parse(a.body, nullptr, false) : json();
  }

  json sim_state(const std::string& id) { return get("/sim/bmc/" + id); }

  std::unique_ptr<fleet_server> server_;
};

const std::string h1 = "/bmc/h1/redfish/v1";
const std::string system_path = h1 + "/Systems/437XR1138R2";
const std::string media_path = h1 + "/Managers/BMC/VirtualMedia/CD1";

TEST_F(Bmcsim, LinksLeadFromTheRootToSystemManagerAndVirtualMedia) {
  auto root = json::parse(call("GET", h1 + "/", "", "").body);
  EXPECT_EQ(root["Links"]["Sessions"]["@odata.id"], h1 + "/SessionService/Sessions");
  auto systems = get(root["Systems"]["@odata.id"]);
  auto sys = get(systems["Members"][0]["@odata.id"]);
  EXPECT_EQ(sys["@odata.id"], system_path);
  EXPECT_EQ(sys["Actions"]["#ComputerSystem.Reset"]["target"],
            system_path + "/Actions/ComputerSystem.Reset");
  auto manager = get(get(root["Managers"]["@odata.id"])["Members"][0]["@odata.id"]);
  EXPECT_FALSE(manager["FirmwareVersion"].get<std::string>().empty());
  auto media = get(get(manager["VirtualMedia"]["@odata.id"])["Members"][0]["@odata.id"]);
  EXPECT_EQ(media["@odata.id"], media_path);
  auto drives = get(
      get(get(sys["Storage"]["@odata.id"])["Members"][0]["@odata.id"])["Drives"][0]["@odata.id"]);
  EXPECT_TRUE(drives["Actions"].contains("#Drive.SecureErase"));
  auto nic = get(get(sys["EthernetInterfaces"]["@odata.id"])["Members"][0]["@odata.id"]);
  EXPECT_EQ(nic["MACAddress"].get<std::string>().size(), 17U);
  EXPECT_EQ(get(root["Chassis"]["@odata.id"])["Members"][0]["@odata.id"], h1 + "/Chassis/1U");
}

TEST_F(Bmcsim, ResetGoesThroughPoweringOnToOn) {
  EXPECT_EQ(get(system_path)["PowerState"], "Off");
  EXPECT_EQ(
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"On"})").status,
      204);
  EXPECT_EQ(get(system_path)["PowerState"], "PoweringOn");
  EXPECT_TRUE(eventually([&] { return get(system_path)["PowerState"] == "On"; }));
  EXPECT_EQ(
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceOff"})")
          .status,
      204);
  EXPECT_EQ(get(system_path)["PowerState"], "PoweringOff");
  EXPECT_TRUE(eventually([&] { return get(system_path)["PowerState"] == "Off"; }));
  auto bad =
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"Explode"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("Explode"), std::string::npos);
}

TEST_F(Bmcsim, BootOverrideSticksAndABadValueIsRefusedByName) {
  auto ok = call(
      "PATCH", system_path,
      R"({"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Continuous"}})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(get(system_path)["Boot"]["BootSourceOverrideTarget"], "Pxe");
  auto bad = call("PATCH", system_path, R"({"Boot":{"BootSourceOverrideTarget":"Floppy"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["@Message.ExtendedInfo"][0]["MessageArgs"][0], "Floppy");
  EXPECT_EQ(get(system_path)["Boot"]["BootSourceOverrideTarget"], "Pxe");
}

TEST_F(Bmcsim, VirtualMediaInsertsAndEjects) {
  const std::string iso = "http://repo/os.iso";
  EXPECT_EQ(
      call("POST", media_path + "/Actions/VirtualMedia.InsertMedia", R"({"Image":")" + iso + "\"}")
          .status,
      204);
  auto media = get(media_path);
  EXPECT_EQ(media["Image"], iso);
  EXPECT_EQ(media["Inserted"], true);
  EXPECT_EQ(call("POST", media_path + "/Actions/VirtualMedia.EjectMedia", "{}").status, 204);
  EXPECT_EQ(get(media_path)["Inserted"], false);
}

TEST_F(Bmcsim, ABootFromCdRecordsTheImageForTheInstaller) {
  call("POST", media_path + "/Actions/VirtualMedia.InsertMedia",
       R"({"Image":"http://repo/a.iso"})");
  call("PATCH", system_path,
       R"({"Boot":{"BootSourceOverrideTarget":"Cd","BootSourceOverrideEnabled":"Once"}})");
  call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceRestart"})");
  ASSERT_TRUE(eventually([&] { return sim_state("h1")["boots"].size() == 1; }));
  auto state = sim_state("h1");
  EXPECT_EQ(state["boots"][0]["target"], "Cd");
  EXPECT_EQ(state["boots"][0]["image"], "http://repo/a.iso");
  EXPECT_EQ(state["boot"]["enabled"], "Disabled");
}

TEST_F(Bmcsim, EveryActionTakenIsRecordedInOrderWithTheCallersJob) {
  const std::string job = "X-AB-Job: 128/00ff00ff00ff00ff\r\n";
  call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceOff"})",
       basic + job);
  call("POST", media_path + "/Actions/VirtualMedia.InsertMedia",
       R"({"Image":"http://repo/a.iso?callback=x&token=secret"})", basic + job);
  call("PATCH", system_path,
       R"({"Boot":{"BootSourceOverrideTarget":"Cd","BootSourceOverrideEnabled":"Once"}})");
  // Refused or faulted calls are no action taken.
  EXPECT_EQ(
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"Fly"})").status,
      400);
  call("POST", "/sim/bmc/h1/faults", R"({"error_rate":1})");
  EXPECT_GE(
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"On"})").status,
      500);
  call("DELETE", "/sim/bmc/h1/faults");
  call("POST", media_path + "/Actions/VirtualMedia.EjectMedia", "{}");
  call("POST", system_path + "/Storage/1/Drives/Disk1/Actions/Drive.SecureErase", "{}");

  auto a = json::parse(call("GET", "/sim/bmc/h1/actions").body);
  ASSERT_EQ(a["actions"].size(), 5u) << a.dump(1);
  const std::vector<std::pair<std::string, std::string>> want{{"power", "ForceOff"},
                                                              {"media_insert", "http://repo/a.iso"},
                                                              {"boot", "Cd/Once"},
                                                              {"media_eject", ""},
                                                              {"erase", "Disk1"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(a["actions"][i]["kind"], want[i].first) << i;
    EXPECT_EQ(a["actions"][i]["detail"], want[i].second) << i;
    EXPECT_EQ(a["actions"][i]["job"], i < 2 ? "128/00ff00ff00ff00ff" : "") << i;
    if (i > 0) {
      EXPECT_GE(a["actions"][i]["at"].get<long long>(), a["actions"][i - 1]["at"].get<long long>());
    }
  }
  // The callback token never reaches the record.
  EXPECT_EQ(a.dump().find("secret"), std::string::npos);
  // All BMCs at once: only those that took an action.
  call("GET", "/bmc/h2/redfish/v1/Systems");
  auto all = json::parse(call("GET", "/sim/actions").body);
  EXPECT_EQ(all["bmcs"].size(), 1u) << all.dump(1);
  EXPECT_EQ(all["bmcs"]["h1"], a["actions"]);
  EXPECT_EQ(call("GET", "/sim/bmc/nobody/actions").status, 404);
}

TEST_F(Bmcsim, SecureEraseReturnsATaskMonitorThatCompletes) {
  auto a = call("POST", system_path + "/Storage/1/Drives/Disk0/Actions/Drive.SecureErase", "{}");
  ASSERT_EQ(a.status, 202);
  auto at = a.headers.find("Location: ");
  ASSERT_NE(at, std::string::npos);
  auto monitor = a.headers.substr(at + 10, a.headers.find("\r\n", at) - at - 10);
  EXPECT_EQ(call("GET", monitor).status, 202);
  EXPECT_TRUE(eventually([&] { return call("GET", monitor).status == 200; }));
  EXPECT_EQ(get(h1 + "/TaskService/Tasks/1")["TaskState"], "Completed");
}

TEST_F(Bmcsim, SessionsLogInAndOut) {
  auto a = call("POST", h1 + "/SessionService/Sessions",
                R"({"UserName":"admin","Password":"password"})", "");
  ASSERT_EQ(a.status, 201);
  auto at = a.headers.find("X-Auth-Token: ");
  ASSERT_NE(at, std::string::npos);
  auto token = a.headers.substr(at + 14, a.headers.find("\r\n", at) - at - 14);
  auto loc = a.headers.find("Location: ");
  auto session = a.headers.substr(loc + 10, a.headers.find("\r\n", loc) - loc - 10);
  auto with_token = "X-Auth-Token: " + token + "\r\n";
  EXPECT_EQ(call("GET", system_path, "", with_token).status, 200);
  EXPECT_EQ(call("DELETE", session, "", with_token).status, 204);
  EXPECT_EQ(call("GET", system_path, "", with_token).status, 401);
  EXPECT_EQ(
      call("POST", h1 + "/SessionService/Sessions", R"({"UserName":"admin","Password":"x"})", "")
          .status,
      401);
}

TEST_F(Bmcsim, StatsCountEveryRequestAndEachLoginAndLogout) {
  auto a = call("POST", h1 + "/SessionService/Sessions",
                R"({"UserName":"admin","Password":"password"})", "");
  ASSERT_EQ(a.status, 201);
  auto at = a.headers.find("X-Auth-Token: ");
  auto token = a.headers.substr(at + 14, a.headers.find("\r\n", at) - at - 14);
  auto with_token = "X-Auth-Token: " + token + "\r\n";
  EXPECT_EQ(call("GET", system_path, "", with_token).status, 200);
  EXPECT_EQ(call("GET", h1 + "/NoSuchThing", "", with_token).status, 404);
  EXPECT_EQ(call("DELETE", h1 + "/SessionService/Sessions/1", "", with_token).status, 204);
  call("POST", h1 + "/SessionService/Sessions", R"({"UserName":"admin","Password":"x"})", "");
  auto stats = get("/sim/stats");
  EXPECT_EQ(stats["requests"], 5);
  EXPECT_EQ(stats["logins"], 1) << "a refused login is no login";
  EXPECT_EQ(stats["logouts"], 1);
  EXPECT_EQ(stats["sessions"], 0);
  EXPECT_EQ(sim_state("h1")["logins"], 1);
  EXPECT_EQ(get("/sim/stats")["requests"], 5) << "the control API is not counted";
  EXPECT_EQ(call("POST", "/sim/stats", "{}").status, 405);
}

TEST_F(Bmcsim, MissingOrWrongCredentialsGet401WithARedfishError) {
  auto a = call("GET", system_path, "", "");
  EXPECT_EQ(a.status, 401);
  EXPECT_TRUE(json::parse(a.body).contains("error"));
  EXPECT_EQ(call("GET", system_path, "", "Authorization: Basic YWRtaW46eA==\r\n").status, 401);
}

TEST_F(Bmcsim, AnUnknownResourceIs404WithARedfishError) {
  auto a = call("GET", h1 + "/Systems/nope");
  EXPECT_EQ(a.status, 404);
  EXPECT_TRUE(json::parse(a.body).contains("error"));
  EXPECT_EQ(call("GET", "/elsewhere").status, 404);
}

TEST_F(Bmcsim, TwoBmcsHaveIndependentState) {
  call("PATCH", system_path, R"({"Boot":{"BootSourceOverrideTarget":"Pxe"}})");
  const std::string h2 = "/bmc/h2/redfish/v1/Systems/437XR1138R2";
  EXPECT_EQ(get(h2)["Boot"]["BootSourceOverrideTarget"], "None");
  EXPECT_NE(get(h2)["SerialNumber"], get(system_path)["SerialNumber"]);
  EXPECT_NE(get(h2 + "/EthernetInterfaces/NIC1")["MACAddress"],
            get(system_path + "/EthernetInterfaces/NIC1")["MACAddress"]);
}

TEST_F(Bmcsim, ErrorRateOneAnswersEveryRequestWith5xx) {
  EXPECT_EQ(call("POST", "/sim/bmc/h1/faults", R"({"error_rate":1})").status, 200);
  for (int i = 0; i < 10; ++i) {
    auto a = call("GET", system_path);
    EXPECT_TRUE(a.status == 503 || a.status == 500) << a.status;
    if (a.status == 503) {
      EXPECT_NE(a.headers.find("Retry-After"), std::string::npos);
    }
  }
  EXPECT_EQ(call("GET", "/bmc/h2/redfish/v1/Systems").status, 200);
  EXPECT_EQ(call("DELETE", "/sim/bmc/h1/faults").status, 200);
  EXPECT_EQ(call("GET", system_path).status, 200);
}

TEST_F(Bmcsim, LatencyDelaysTheAnswer) {
  call("POST", "/sim/faults", R"({"latency_ms":300})");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", system_path).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
}

TEST_F(Bmcsim, DropAndHangLeaveTheClientWithoutAnAnswer) {
  call("POST", "/sim/bmc/h1/faults", R"({"drop":true})");
  EXPECT_EQ(call("GET", system_path).status, 0);
  server_.reset();
  fleet_options o;
  o.hang_ms = 300;
  start(o);
  call("POST", "/sim/bmc/h1/faults", R"({"hang":true})");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", system_path).status, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  EXPECT_EQ(sim_state("h1")["faults_injected"], 1);
}

TEST_F(Bmcsim, GarbageIsAnOkAnswerThatIsNotJson) {
  call("POST", "/sim/faults", R"({"garbage":true})");
  auto a = call("GET", system_path);
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(json::parse(a.body, nullptr, false).is_discarded());
}

TEST_F(Bmcsim, AuthFailRefusesGoodCredentials) {
  call("POST", "/sim/bmc/h1/faults", R"({"auth_fail":true})");
  EXPECT_EQ(call("GET", system_path).status, 401);
  EXPECT_EQ(call("POST", "/sim/bmc/h1/faults", R"({"auth_fail":"yes"})").status, 400);
}

TEST_F(Bmcsim, FaultsSetAtStartApply) {
  server_.reset();
  fleet_options o;
  o.faults.push_back(*ab::bmc::sim::parse_fault_spec("h1:error_rate=1"));
  start(o);
  EXPECT_GE(call("GET", system_path).status, 500);
  EXPECT_EQ(call("GET", "/bmc/h2/redfish/v1/Systems").status, 200);
}

TEST_F(Bmcsim, TwoThousandBmcsAreCreatedAndQueriedQuickly) {
  server_.reset();
  fleet_options o;
  o.hosts = 2000;
  start(o);
  EXPECT_EQ(json::parse(call("GET", "/sim/bmcs").body)["count"], 2000);
  for (int n = 0; n < 2000; n += 10) {
    char id[16];
    std::snprintf(id, sizeof id, "sim-%04d", n);
    ASSERT_EQ(call("GET", std::string{"/bmc/"} + id + "/redfish/v1/Systems/437XR1138R2").status,
              200);
  }
  EXPECT_EQ(call("GET", "/bmc/new-one/redfish/v1/").status, 200);
  EXPECT_EQ(json::parse(call("GET", "/sim/bmcs").body)["count"], 2001);
}

}  // namespace
