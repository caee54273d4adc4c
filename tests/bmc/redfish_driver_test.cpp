#include "bmc/redfish_driver.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "bmc/detail/redfish_client.hpp"
#include "bmc/endpoint_policy.hpp"
#include "bmc/job_tag.hpp"
#include "core/error.hpp"
#include "tests/bmc/fake_redfish.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_cert.hpp"

namespace {

using ab::bmc::boot_device;
using ab::bmc::power_action;
using ab::bmc::power_state;
using ab::bmc::redfish_driver;
using ab::testing::fake_redfish;
using ab::testing::recorded_request;
using nlohmann::json;

const std::string rackmount = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-rackmount1";
const std::string localstorage = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-localstorage";
const std::string system_path = "/redfish/v1/Systems/437XR1138R2";

ab::testing::fake_redfish_options mockup(const std::string& dir) {
  ab::testing::fake_redfish_options o;
  o.mockup_dir = dir;
  return o;
}

ab::bmc::redfish_options quick() {
  ab::bmc::redfish_options o;
  o.backoff = std::chrono::milliseconds(10);
  o.task_poll = std::chrono::milliseconds(10);
  o.task_timeout = std::chrono::seconds(10);
  return o;
}

class RedfishDriver : public ::testing::Test {
 protected:
  ab::bmc::target target_for(const fake_redfish& f) const {
    ab::bmc::target t;
    t.endpoint = f.endpoint();
    t.user = "admin";
    t.password = "secret";
    t.timeout = std::chrono::seconds(5);
    return t;
  }

  /// The mutating requests other than session logins and logouts.
  static std::vector<recorded_request> actions(const fake_redfish& f) {
    auto all = f.requests();
    std::erase_if(all, [](const recorded_request& r) {
      return r.path.find("/SessionService/Sessions") != std::string::npos;
    });
    return all;
  }

  redfish_driver driver_{quick()};
};

TEST_F(RedfishDriver, ReadsThePowerStateOfTheFirstSystem) {
  fake_redfish f(mockup(rackmount));
  auto s = driver_.power(target_for(f));
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(*s, power_state::on);
}

TEST_F(RedfishDriver, PostsEachResetTypeAndThePowerStateFollows) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  const std::vector<std::pair<power_action, std::string>> cases{
      {power_action::off, "ForceOff"},
      {power_action::on, "On"},
      {power_action::graceful_off, "GracefulShutdown"},
      {power_action::force_restart, "ForceRestart"}};
  for (const auto& [action, type] : cases) {
    ASSERT_FALSE(driver_.set_power(t, action)) << type;
    auto last = actions(f).back();
    EXPECT_EQ(last.path, system_path + "/Actions/ComputerSystem.Reset");
    EXPECT_EQ(json::parse(last.body), json({{"ResetType", type}}));
    auto expected =
        type == "ForceOff" || type == "GracefulShutdown" ? power_state::off : power_state::on;
    EXPECT_EQ(*driver_.power(t), expected) << type;
  }
}

TEST_F(RedfishDriver, APowerCycleTheBmcDoesNotAllowBecomesAForceRestart) {
  fake_redfish f(mockup(rackmount));
  ASSERT_FALSE(driver_.set_power(target_for(f), power_action::power_cycle));
  EXPECT_EQ(json::parse(actions(f).back().body)["ResetType"], "ForceRestart");
}

TEST_F(RedfishDriver, APowerCycleFallsBackToForceOffThenOn) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] = {"On",
                                                                                     "ForceOff"};
  f.set_resource(system_path, system);
  ASSERT_FALSE(driver_.set_power(target_for(f), power_action::power_cycle));
  auto posted = actions(f);
  ASSERT_EQ(posted.size(), 2u);
  EXPECT_EQ(json::parse(posted[0].body)["ResetType"], "ForceOff");
  EXPECT_EQ(json::parse(posted[1].body)["ResetType"], "On");
}

TEST_F(RedfishDriver, RefusesAResetTypeOutsideTheAllowableValuesNamingThem) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] = {"On"};
  f.set_resource(system_path, system);
  auto err = driver_.set_power(target_for(f), power_action::off);
  ASSERT_TRUE(ab::is(err, ab::errc::invalid_argument));
  EXPECT_NE(ab::message_of(err).find("allowed: On"), std::string::npos);
  EXPECT_TRUE(actions(f).empty());
}

TEST_F(RedfishDriver, ReadsTheAllowedResetTypesFromActionInfo) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  auto& reset = system["Actions"]["#ComputerSystem.Reset"];
  reset.erase("ResetType@Redfish.AllowableValues");
  reset["@Redfish.ActionInfo"] = system_path + "/ResetActionInfo";
  f.set_resource(system_path, system);
  f.set_resource(system_path + "/ResetActionInfo",
                 {{"Parameters", {{{"Name", "ResetType"}, {"AllowableValues", {"PowerCycle"}}}}}});
  auto t = target_for(f);
  EXPECT_TRUE(ab::is(driver_.set_power(t, power_action::off), ab::errc::invalid_argument));
  ASSERT_FALSE(driver_.set_power(t, power_action::power_cycle));
  EXPECT_EQ(json::parse(actions(f).back().body)["ResetType"], "PowerCycle");
}

TEST_F(RedfishDriver, SendsTheResourceEtagWithAPatch) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["@odata.etag"] = "W/\"12345\"";
  f.set_resource(system_path, system);
  ASSERT_FALSE(driver_.set_boot(target_for(f), boot_device::pxe, true));
  EXPECT_EQ(actions(f).back().headers["if-match"], "W/\"12345\"");
}

TEST_F(RedfishDriver, CallsCarryTheThreadsJobTagAndNoneWithoutOne) {
  fake_redfish f(mockup(rackmount));
  {
    ab::bmc::scoped_job_tag tag{"4096/00ff00ff00ff00ff"};
    ASSERT_FALSE(driver_.set_power(target_for(f), power_action::force_restart));
    EXPECT_EQ(actions(f).back().headers["x-ab-job"], "4096/00ff00ff00ff00ff");
  }
  EXPECT_EQ(ab::bmc::current_job_tag(), "");
  ASSERT_FALSE(driver_.set_power(target_for(f), power_action::force_restart));
  EXPECT_EQ(actions(f).back().headers.count("x-ab-job"), 0u);
}

TEST_F(RedfishDriver, ASetBootAfterAReadOfTheSystemSendsItsEtagWithoutAGet) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["@odata.etag"] = "W/\"7\"";
  f.set_resource(system_path, system);
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  auto before = f.served();
  ASSERT_FALSE(driver_.set_boot(t, boot_device::pxe, true));
  EXPECT_EQ(f.served() - before, 1) << "the PATCH alone";
  EXPECT_EQ(actions(f).back().method, "PATCH");
  EXPECT_EQ(actions(f).back().headers["if-match"], "W/\"7\"");
  // The PATCH's answer carried the System back, with its ETag: the next one needs no GET.
  before = f.served();
  ASSERT_FALSE(driver_.set_boot(t, boot_device::disk, false));
  EXPECT_EQ(f.served() - before, 1);
  EXPECT_EQ(f.resource(system_path)["Boot"]["BootSourceOverrideTarget"], "Hdd");
}

TEST_F(RedfishDriver, AStaleEtagIsReadAgainAndThePatchSentOnceMore) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["@odata.etag"] = "W/\"1\"";
  f.set_resource(system_path, system);
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  // Someone else changed the System since: the BMC refuses the old ETag.
  system["@odata.etag"] = "W/\"2\"";
  f.set_resource(system_path, system);
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    auto m = r.headers.find("if-match");
    if (r.method != "PATCH" || m == r.headers.end() || m->second == "W/\"2\"") return std::nullopt;
    return ab::net::http_response{412, "application/json", "{}", {}};
  });
  ASSERT_FALSE(driver_.set_boot(t, boot_device::cd, true));
  EXPECT_EQ(f.resource(system_path)["Boot"]["BootSourceOverrideTarget"], "Cd");
  EXPECT_EQ(actions(f).back().headers["if-match"], "W/\"2\"");
  // A stale ETag again after the fresh read: an error, not a loop.
  system["@odata.etag"] = "W/\"3\"";
  f.set_resource(system_path, system);
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.method != "PATCH") return std::nullopt;
    return ab::net::http_response{412, "application/json", "{}", {}};
  });
  auto err = driver_.set_boot(t, boot_device::pxe, true);
  EXPECT_TRUE(ab::is(err, ab::errc::conflict)) << ab::message_of(err);
}

TEST_F(RedfishDriver, AResetMakesTheNextSetBootReadAVersionedSystemAgain) {
  fake_redfish f(mockup(rackmount));
  auto system = f.resource(system_path);
  system["@odata.etag"] = "W/\"1\"";
  f.set_resource(system_path, system);
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  ASSERT_FALSE(driver_.set_power(t, power_action::off));
  auto before = f.served();
  ASSERT_FALSE(driver_.set_boot(t, boot_device::pxe, true));
  EXPECT_EQ(f.served() - before, 2) << "a GET for the System's new ETag, then the PATCH";
}

TEST_F(RedfishDriver, PatchesTheBootOverrideAndItSticks) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  ASSERT_FALSE(driver_.set_boot(t, boot_device::cd, false));
  auto patch = actions(f).back();
  EXPECT_EQ(patch.method, "PATCH");
  EXPECT_EQ(patch.path, system_path);
  EXPECT_EQ(
      json::parse(patch.body),
      json({{"Boot",
             {{"BootSourceOverrideTarget", "Cd"}, {"BootSourceOverrideEnabled", "Continuous"}}}}));
  EXPECT_EQ(f.resource(system_path)["Boot"]["BootSourceOverrideTarget"], "Cd");
  ASSERT_FALSE(driver_.set_boot(t, boot_device::pxe, true));
  EXPECT_EQ(f.resource(system_path)["Boot"]["BootSourceOverrideEnabled"], "Once");
}

TEST_F(RedfishDriver, HttpBootAsksForUefiModeAndIsRefusedWhereNotAllowed) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  // The mockup's allowable targets lack UefiHttp.
  EXPECT_TRUE(
      ab::is(driver_.set_boot(t, boot_device::uefi_http, true), ab::errc::invalid_argument));
  auto system = f.resource(system_path);
  system["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"].push_back("UefiHttp");
  f.set_resource(system_path, system);
  ASSERT_FALSE(driver_.set_boot(t, boot_device::uefi_http, true));
  EXPECT_EQ(json::parse(actions(f).back().body)["Boot"]["BootSourceOverrideMode"], "UEFI");
}

TEST_F(RedfishDriver, InsertsAndEjectsMediaByPatchUnderTheSystem) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  const std::string cd = system_path + "/VirtualMedia/CD1";
  ASSERT_FALSE(driver_.set_media(t, "http://images/os.iso"));
  EXPECT_EQ(actions(f).back().path, cd);
  EXPECT_EQ(f.resource(cd)["Image"], "http://images/os.iso");
  EXPECT_EQ(f.resource(cd)["Inserted"], true);
  ASSERT_FALSE(driver_.set_media(t, ""));
  EXPECT_EQ(f.resource(cd)["Inserted"], false);
}

TEST_F(RedfishDriver, InsertsAndEjectsMediaByActionUnderTheManager) {
  fake_redfish f(mockup(localstorage));
  const std::string cd = "/redfish/v1/Managers/BMC/VirtualMedia/CD1";
  auto media = f.resource(cd);
  media["Actions"] = {
      {"#VirtualMedia.InsertMedia", {{"target", cd + "/Actions/VirtualMedia.InsertMedia"}}},
      {"#VirtualMedia.EjectMedia", {{"target", cd + "/Actions/VirtualMedia.EjectMedia"}}}};
  media["Inserted"] = false;
  f.set_resource(cd, media);
  auto t = target_for(f);
  ASSERT_FALSE(driver_.set_media(t, "http://images/os.iso"));
  EXPECT_EQ(actions(f).back().path, cd + "/Actions/VirtualMedia.InsertMedia");
  EXPECT_EQ(f.resource(cd)["Image"], "http://images/os.iso");
  ASSERT_FALSE(driver_.set_media(t, ""));
  EXPECT_EQ(actions(f).back().path, cd + "/Actions/VirtualMedia.EjectMedia");
  EXPECT_EQ(f.resource(cd)["Inserted"], false);
}

TEST_F(RedfishDriver, ReadsTheInventoryOfARackmountServer) {
  fake_redfish f(mockup(rackmount));
  auto inv = driver_.read_inventory(target_for(f));
  ASSERT_TRUE(inv) << ab::message_of(inv.error());
  EXPECT_EQ(inv->manufacturer, "Contoso");
  EXPECT_EQ(inv->model, "3500");
  EXPECT_EQ(inv->serial, "437XR1138R2");
  EXPECT_EQ(inv->uuid, "38947555-7742-3448-3784-823347823834");
  EXPECT_EQ(inv->bios_version, "P79 v1.45 (12/06/2017)");
  EXPECT_EQ(inv->cpu_count, 2);
  // CPU2's socket reports no model; the FPGA is not a CPU.
  EXPECT_EQ(inv->cpu_models,
            std::vector<std::string>{"Multi-Core Intel(R) Xeon(R) processor 7xxx Series"});
  EXPECT_EQ(inv->memory_mib, 96 * 1024);
  EXPECT_FALSE(inv->nics.empty());
  EXPECT_FALSE(inv->bmc_firmware.empty());
  // SimpleStorage: the present devices.
  ASSERT_FALSE(inv->drives.empty());
  EXPECT_EQ(inv->drives[0].model, "3000GT8");
}

TEST_F(RedfishDriver, ReadsDrivesThroughStorageLinks) {
  fake_redfish f(mockup(localstorage));
  auto inv = driver_.read_inventory(target_for(f));
  ASSERT_TRUE(inv) << ab::message_of(inv.error());
  ASSERT_EQ(inv->drives.size(), 4u);
  auto d = std::find_if(inv->drives.begin(), inv->drives.end(),
                        [](auto& x) { return x.id == "32ADF365C6C1B7BD"; });
  ASSERT_NE(d, inv->drives.end());
  EXPECT_EQ(d->serial, "1234570");
  EXPECT_EQ(d->media_type, "HDD");
  EXPECT_EQ(d->capacity_bytes, 899527000064);
}

TEST_F(RedfishDriver, ErasesEachDrivePollingItsTaskMonitorToCompletion) {
  fake_redfish f(mockup(localstorage));
  auto results = driver_.erase_disks(target_for(f));
  ASSERT_TRUE(results) << ab::message_of(results.error());
  ASSERT_EQ(results->size(), 4u);
  for (const auto& r : *results) {
    EXPECT_TRUE(r.ok) << r.drive << ": " << r.detail;
    EXPECT_EQ(r.method, "SecureErase");
  }
  EXPECT_EQ(f.resource("/redfish/v1/TaskService/Tasks/erase4")["TaskState"], "Completed");
}

TEST_F(RedfishDriver, ATaskEndingInExceptionFailsItsDrive) {
  auto o = mockup(localstorage);
  o.task_outcome = "Exception";
  fake_redfish f(o);
  auto results = driver_.erase_disks(target_for(f));
  ASSERT_TRUE(results) << ab::message_of(results.error());
  ASSERT_EQ(results->size(), 4u);
  EXPECT_FALSE(results->front().ok);
  EXPECT_NE(results->front().detail.find("Exception"), std::string::npos);
}

TEST_F(RedfishDriver, DrivesItCannotEraseAreReportedNotSkipped) {
  fake_redfish f(mockup(rackmount));
  auto results = driver_.erase_disks(target_for(f));
  ASSERT_TRUE(results) << ab::message_of(results.error());
  ASSERT_FALSE(results->empty());
  for (const auto& r : *results) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.method, "none");
  }
}

TEST_F(RedfishDriver, LogsInOnceForManyCallsAndLogsOutWhenDestroyed) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  {
    redfish_driver driver(quick());
    ASSERT_TRUE(driver.power(t));
    ASSERT_FALSE(driver.set_power(t, power_action::off));
    ASSERT_FALSE(driver.set_boot(t, boot_device::cd, true));
    ASSERT_FALSE(driver.set_media(t, "http://images/os.iso"));
    ASSERT_TRUE(driver.read_inventory(t));
    ASSERT_TRUE(driver.power(t));
    EXPECT_EQ(f.logins(), 1);
    auto all = f.requests();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all[0].method, "POST");
    EXPECT_EQ(all[0].path, "/redfish/v1/SessionService/Sessions");
    // The password travels once, in the login body, not as HTTP Basic too.
    EXPECT_EQ(all[0].headers.count("authorization"), 0u);
    EXPECT_TRUE(std::none_of(all.begin(), all.end(),
                             [](const recorded_request& r) { return r.method == "DELETE"; }));
  }
  auto all = f.requests();
  EXPECT_EQ(all.back().method, "DELETE");
  EXPECT_EQ(all.back().path, "/redfish/v1/SessionService/Sessions/1");
  EXPECT_EQ(all.back().headers["x-auth-token"], "token-1");
  EXPECT_EQ(f.open_sessions(), 0u);
}

TEST_F(RedfishDriver, ItsIdleThreadLogsOutASessionUnusedForTheLimit) {
  fake_redfish f(mockup(rackmount));
  auto o = quick();
  o.session_idle = std::chrono::milliseconds(1);
  redfish_driver driver(o);
  ASSERT_TRUE(driver.power(target_for(f)));
  // Nobody calls again: the driver's own thread ends the session.
  for (int i = 0; i < 500 && f.open_sessions() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.open_sessions(), 0u);
  EXPECT_EQ(f.requests().back().method, "DELETE");
}

TEST_F(RedfishDriver, ALaterCallReadsTheSystemItFoundWithOneRequest) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  auto before = f.served();
  ASSERT_TRUE(driver_.power(t));
  EXPECT_EQ(f.served() - before, 1);
}

TEST_F(RedfishDriver, LogsInAgainOnceWhenTheBmcExpiredTheSession) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  f.expire_sessions();
  auto s = driver_.power(t);
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(*s, power_state::on);
  EXPECT_EQ(f.logins(), 2);
  // The new session is kept in turn.
  ASSERT_FALSE(driver_.set_power(t, power_action::off));
  EXPECT_EQ(f.logins(), 2);
}

TEST_F(RedfishDriver, ATokenRefusedEvenAfterARenewedLoginIsUnauthenticated) {
  fake_redfish f(mockup(rackmount));
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.headers.count("x-auth-token") == 0) return std::nullopt;
    return ab::net::http_response{401, "application/json", "{}", {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unauthenticated)) << ab::message_of(s.error());
  EXPECT_EQ(f.logins(), 2) << "one login, one renewal, no loop";
}

TEST_F(RedfishDriver, ARotatedCredentialEndsTheOldSessionAndLogsInAfresh) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  f.set_credentials("admin", "rotated");
  t.password = "rotated";
  ASSERT_TRUE(driver_.power(t));
  EXPECT_EQ(f.logins(), 2);
  auto deleted = f.requests();
  std::erase_if(deleted, [](const recorded_request& r) { return r.method != "DELETE"; });
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].path, "/redfish/v1/SessionService/Sessions/1");
  EXPECT_EQ(f.open_sessions(), 1u);
}

TEST_F(RedfishDriver, FindsTheSystemAgainWhenItsRememberedPathIsGone) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  ASSERT_TRUE(driver_.power(t));
  // The BMC's firmware renamed the System.
  const std::string moved = "/redfish/v1/Systems/Renamed";
  auto system = f.resource(system_path);
  system["@odata.id"] = moved;
  system["PowerState"] = "Off";
  f.set_resource(moved, system);
  f.set_resource("/redfish/v1/Systems",
                 {{"Members", {{{"@odata.id", moved}}}}, {"Members@odata.count", 1}});
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/Systems/437XR1138R2") == std::string::npos) return std::nullopt;
    return ab::net::http_response{404, "application/json", "{}", {}};
  });
  auto s = driver_.power(t);
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(*s, power_state::off);
  EXPECT_EQ(f.logins(), 1);
}

TEST_F(RedfishDriver, FallsBackToBasicAuthWhenSessionsAreRefused) {
  auto o = mockup(rackmount);
  o.sessions = false;
  fake_redfish f(o);
  auto t = target_for(f);
  ASSERT_FALSE(driver_.set_power(t, power_action::off));
  auto last = actions(f).back();
  EXPECT_EQ(last.headers.count("x-auth-token"), 0u);
  EXPECT_EQ(last.headers["authorization"].rfind("Basic ", 0), 0u);
  t.password = "wrong";
  EXPECT_TRUE(ab::is(driver_.power(t).error(), ab::errc::unauthenticated));
}

TEST_F(RedfishDriver, UsesBasicAuthForAGuardedServiceRoot) {
  auto o = mockup(rackmount);
  o.public_root = false;
  fake_redfish f(o);
  auto s = driver_.power(target_for(f));
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(*s, power_state::on);
}

TEST_F(RedfishDriver, WrongCredentialsAreUnauthenticatedNamingTheEndpointNotThePassword) {
  fake_redfish f(mockup(rackmount));
  auto t = target_for(f);
  t.password = "hunter2-secret";
  auto s = driver_.power(t);
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unauthenticated));
  auto text = ab::message_of(s.error());
  EXPECT_NE(text.find(f.endpoint()), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
}

TEST_F(RedfishDriver, SurfacesTheRedfishErrorOfA500AfterRetrying) {
  fake_redfish f(mockup(rackmount));
  std::atomic<int> calls{0};
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/Systems/") == std::string::npos) return std::nullopt;
    ++calls;
    json body{{"error",
               {{"code", "Base.1.0.InternalError"},
                {"message", "The BMC is sad."},
                {"@Message.ExtendedInfo", {{{"Message", "Fan controller is offline."}}}}}}};
    return ab::net::http_response{500, "application/json", body.dump(), {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unavailable));
  auto text = ab::message_of(s.error());
  EXPECT_NE(text.find("The BMC is sad."), std::string::npos) << text;
  EXPECT_NE(text.find("Fan controller is offline."), std::string::npos) << text;
  EXPECT_EQ(calls, 3);
}

TEST_F(RedfishDriver, RetriesA503WithRetryAfterAndSucceeds) {
  fake_redfish f(mockup(rackmount));
  std::atomic<int> refused{0};
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/Systems/") == std::string::npos || refused++ > 0) return std::nullopt;
    return ab::net::http_response{503, "application/json", "{}", {{"Retry-After", "0"}}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(*s, power_state::on);
}

TEST_F(RedfishDriver, AGarbageBodyIsAnErrorNotACrash) {
  fake_redfish f(mockup(rackmount));
  f.intercept([](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/Systems") == std::string::npos) return std::nullopt;
    return ab::net::http_response{200, "application/json", "{\"Members\": [ <html>", {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unavailable));
}

TEST_F(RedfishDriver, AHungBmcTimesOut) {
  fake_redfish f(mockup(rackmount));
  f.hang();
  auto t = target_for(f);
  t.timeout = std::chrono::milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  auto s = driver_.power(t);
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(RedfishDriver, ARefusedConnectionIsUnavailableNamingTheEndpoint) {
  ab::bmc::target t;
  t.endpoint = "http://127.0.0.1:1/bmc";
  t.timeout = std::chrono::seconds(2);
  auto s = driver_.power(t);
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::unavailable));
  EXPECT_NE(ab::message_of(s.error()).find("http://127.0.0.1:1/bmc"), std::string::npos);
}

TEST_F(RedfishDriver, VerifiesTlsUnlessInsecure) {
  auto dir = std::filesystem::temp_directory_path() / "ab-redfish-tls";
  std::filesystem::create_directories(dir);
  auto cert = ab::testing::make_test_cert(dir);
  auto o = mockup(rackmount);
  o.tls = {cert.cert_file, cert.key_file};
  fake_redfish f(o);
  auto t = target_for(f);
  EXPECT_TRUE(ab::is(driver_.power(t).error(), ab::errc::unavailable));
  t.ca_file = cert.cert_file;
  EXPECT_TRUE(driver_.power(t));
  t.ca_file.clear();
  t.insecure = true;
  EXPECT_TRUE(driver_.power(t));
}

TEST_F(RedfishDriver, RefusesAnEndpointThatIsNotAUrl) {
  ab::bmc::target t;
  t.endpoint = "bmc01.example.com";
  EXPECT_TRUE(ab::is(driver_.power(t).error(), ab::errc::invalid_argument));
}

}  // namespace

namespace {

std::shared_ptr<const ab::bmc::endpoint_policy> endpoint_rules(bool allow_loopback) {
  ab::bmc::endpoint_options o;
  o.allow_loopback = allow_loopback;
  return *ab::bmc::endpoint_policy::make(o);
}

/// `endpoint` with its numeric loopback host replaced by `host`.
std::string with_host(std::string endpoint, const std::string& host) {
  auto at = endpoint.find("127.0.0.1");
  return endpoint.replace(at, 9, host);
}

TEST_F(RedfishDriver, ANameThatResolvesToLoopbackIsRefusedAtConnectTimeBeforeAnyByte) {
  fake_redfish f(mockup(rackmount));
  std::atomic<int> seen{0};
  f.intercept([&](const ab::net::http_request&) -> std::optional<ab::net::http_response> {
    ++seen;
    return std::nullopt;
  });
  auto t = target_for(f);
  t.endpoint = with_host(f.endpoint(), "localhost");
  t.policy = endpoint_rules(false);
  auto s = driver_.power(t);
  ASSERT_FALSE(s);
  EXPECT_TRUE(ab::is(s.error(), ab::errc::invalid_argument)) << ab::message_of(s.error());
  EXPECT_NE(ab::message_of(s.error()).find("loopback"), std::string::npos);
  t.endpoint = f.endpoint();
  EXPECT_FALSE(driver_.power(t));
  EXPECT_EQ(seen, 0) << "no request reached the refused address";
  // With the simulator option the same endpoint works.
  t.policy = endpoint_rules(true);
  auto ok = driver_.power(t);
  ASSERT_TRUE(ok) << ab::message_of(ok.error());
  t.endpoint = with_host(f.endpoint(), "localhost");
  EXPECT_TRUE(driver_.power(t));
}

TEST_F(RedfishDriver, NeverQuotesTheBodyOfAServiceThatIsNotRedfish) {
  fake_redfish f(mockup(rackmount));
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/redfish/v1") == std::string::npos) return std::nullopt;
    json body{{"error", {{"code", "Internal"}, {"message", "db-password=other-service-secret"}}}};
    return ab::net::http_response{404, "application/json", body.dump(), {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_EQ(ab::message_of(s.error()).find("other-service-secret"), std::string::npos)
      << ab::message_of(s.error());
}

TEST_F(RedfishDriver, RefusesAServiceRootThatIsNotRedfish) {
  fake_redfish f(mockup(rackmount));
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/redfish/v1") == std::string::npos) return std::nullopt;
    return ab::net::http_response{200, "application/json", R"({"token":"t-secret"})", {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_NE(ab::message_of(s.error()).find("not a Redfish service"), std::string::npos);
  EXPECT_EQ(ab::message_of(s.error()).find("t-secret"), std::string::npos);
  EXPECT_TRUE(f.requests().empty()) << "no login was attempted";
}

TEST_F(RedfishDriver, QuotesOnlyTheShapeOfARedfishErrorAndNoControlCharacters) {
  fake_redfish f(mockup(rackmount));
  f.intercept([&](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/Systems/") == std::string::npos) return std::nullopt;
    if (r.target.find("Bios") != std::string::npos) return std::nullopt;
    // No `code`: not a Redfish error, whatever it says.
    json body{{"error", {{"message", "not-redfish-text"}}}};
    return ab::net::http_response{400, "application/json", body.dump(), {}};
  });
  auto s = driver_.power(target_for(f));
  ASSERT_FALSE(s);
  EXPECT_EQ(ab::message_of(s.error()).find("not-redfish-text"), std::string::npos);
  EXPECT_EQ(ab::bmc::detail::redfish_message(
                json{{"error", {{"code", "Base.1.0.X"}, {"message", "line1\r\nInjected: x"}}}}),
            "line1Injected: x");
}

TEST_F(RedfishDriver, ATaskWaitEndsWhenTheInjectedMonotonicClockPassesItsLimit) {
  auto o = mockup(localstorage);
  o.task_polls = 300;  // 3 s of 10 ms polls per drive on the real clock
  fake_redfish f(o);
  auto clock = std::make_shared<ab::manual_clock>();
  // Every poll of a task monitor takes 20 minutes of the injected clock.
  f.intercept([clock](const ab::net::http_request& r) -> std::optional<ab::net::http_response> {
    if (r.target.find("/TaskService/Tasks/") != std::string::npos) clock->advance(20 * 60 * 1000);
    return std::nullopt;
  });
  auto options = quick();
  options.task_timeout = std::chrono::hours(1);
  options.clock = clock;
  redfish_driver driver{options};
  auto results = driver.erase_disks(target_for(f));
  ASSERT_TRUE(results) << ab::message_of(results.error());
  ASSERT_EQ(results->size(), 4u);
  for (const auto& r : *results) {
    EXPECT_FALSE(r.ok) << r.drive;
    EXPECT_NE(r.detail.find("did not finish in time"), std::string::npos) << r.detail;
  }
}

}  // namespace
