// The lifecycle workflows' job types on a fake BMC, driven through the real store: every
// action's chain, the installer callback, and faults ending in the right terminal state.

#include "actors/bmc_handlers.hpp"

#include <cstdlib>
#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "bmc/guard.hpp"
#include "core/error.hpp"
#include "lifecycle/rules.hpp"
#include "lifecycle/workflows.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::actors {
namespace {

using json = nlohmann::json;

/// A BMC in memory with every interface: power, boot and media stick; faults can be switched
/// on.
class fake_bmc final : public bmc::driver,
                       public bmc::power_control,
                       public bmc::boot_control,
                       public bmc::media_control,
                       public bmc::inventory_reader,
                       public bmc::disk_eraser {
 public:
  std::string name() const override { return "fake"; }
  bmc::power_control* power_interface() override { return this; }
  bmc::boot_control* boot_interface() override { return this; }
  bmc::media_control* media_interface() override { return this; }
  bmc::inventory_reader* inventory_interface() override { return this; }
  bmc::disk_eraser* erase_interface() override { return this; }
  caf::expected<bmc::power_state> power(const bmc::target& t) override {
    if (auto err = fault(t)) return err;
    std::lock_guard lock{m};
    return on ? bmc::power_state::on : bmc::power_state::off;
  }
  caf::error set_power(const bmc::target& t, bmc::power_action a) override {
    if (auto err = fault(t)) return err;
    std::lock_guard lock{m};
    actions.push_back(bmc::to_string(a));
    on = a != bmc::power_action::off && a != bmc::power_action::graceful_off;
    return {};
  }
  caf::error set_boot(const bmc::target& t, bmc::boot_device d, bool once) override {
    if (auto err = fault(t)) return err;
    std::lock_guard lock{m};
    boot = bmc::to_string(d) + (once ? "/once" : "");
    return {};
  }
  caf::error set_media(const bmc::target& t, const std::string& url) override {
    if (auto err = fault(t)) return err;
    std::lock_guard lock{m};
    media = url;
    return {};
  }
  caf::expected<bmc::inventory> read_inventory(const bmc::target& t) override {
    if (auto err = fault(t)) return err;
    bmc::inventory inv;
    inv.manufacturer = "Contoso";
    inv.serial = "SN-" + t.endpoint.substr(t.endpoint.size() - 2);
    inv.cpu_count = 2;
    inv.nics.push_back({"eth0", "52:54:00:00:00:01"});
    inv.drives.push_back({"d0", "SSD", "S0", "SSD", 960ll << 30});
    inv.lacks = lacks;
    return inv;
  }
  caf::expected<std::vector<bmc::erase_result>> erase_disks(const bmc::target& t) override {
    if (auto err = fault(t)) return err;
    if (erase_500s > 0) {
      --erase_500s;
      return std::vector<bmc::erase_result>{
          {"d0", "SecureErase", false, "SecureErase answered 500", true}};
    }
    return std::vector<bmc::erase_result>{
        {"d0", "SecureErase", erase_ok, erase_ok ? "" : "drive busy"}};
  }

  caf::error fault(const bmc::target& t) {
    if (t.user != "admin" || t.password != "pw")
      return make_error(errc::unauthenticated, t.endpoint + ": 401");
    if (down) return make_error(errc::unavailable, t.endpoint + ": connection refused");
    auto now = clk ? clk->now() : 0;
    if (now < down_until) return make_error(errc::unavailable, t.endpoint + ": answered 503");
    // Half of the calls fail while the outage lasts: every other one.
    if (now < flaky_until && calls++ % 2 == 0)
      return make_error(errc::unavailable, t.endpoint + ": answered 500");
    return {};
  }

  std::mutex m;
  bool on = true;
  std::string boot, media;
  std::vector<std::string> actions;
  bool down = false;
  bool erase_ok = true;
  /// Erases answered with a 500 before the BMC erases for real.
  int erase_500s = 0;
  /// What its inventory says it lacks.
  bmc::capability_set lacks;
  /// With `clk`: every call fails until `down_until`; every other call until `flaky_until`.
  std::shared_ptr<const ab::clock> clk;
  time_ms down_until = 0;
  time_ms flaky_until = 0;
  int calls = 0;
};

/// The same BMC through the interfaces IPMI has: power, boot, inventory; no media, no erase.
class ipmi_like final : public bmc::driver {
 public:
  explicit ipmi_like(std::shared_ptr<fake_bmc> bmc) : bmc_(std::move(bmc)) {}
  std::string name() const override { return "ipmi"; }
  bmc::power_control* power_interface() override { return bmc_.get(); }
  bmc::boot_control* boot_interface() override { return bmc_.get(); }
  bmc::inventory_reader* inventory_interface() override { return bmc_.get(); }

 private:
  std::shared_ptr<fake_bmc> bmc_;
};

class BmcWorkflows : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AB_BMC_TEST_CRED", "admin:pw", 1);
    clk_ = std::make_shared<manual_clock>();
    clk_->advance(1'000'000);
    db_ = std::make_unique<testing::scratch_store>("sqlite", clk_);
    ASSERT_FALSE(HasFailure());
    store_ = std::shared_ptr<storage::store>(&**db_, [](storage::store*) {});
    bmc_context c;
    c.store = store_;
    c.credentials = std::make_shared<const bmc::credential_store>(bmc::credential_store_options{});
    c.drivers = std::make_shared<const bmc::driver_resolver>(
        std::map<std::string, std::shared_ptr<bmc::driver>>{
            {"redfish", fake_}, {"ipmi", std::make_shared<ipmi_like>(fake_)}});
    c.clk = clk_;
    c.callback_base = [] { return std::string{"https://ab.example:8443"}; };
    c.installer_image = "https://images.example/installer.iso";
    c.install_timeout_ms = 600'000;
    fake_->clk = clk_;
    context_ = c;
    register_bmc_handlers(registry_, c);
  }

  /// Registers the handlers again with `c` (other retry limits, a guarded driver).
  void reregister(const bmc_context& c) {
    registry_ = handler_registry{};
    register_bmc_handlers(registry_, c);
  }

  storage::request_id submit(const std::string& host, const std::string& action,
                             const std::string& state = "new",
                             const std::string& cred = "env:AB_BMC_TEST_CRED",
                             const std::string& endpoint = "") {
    storage::host_record h;
    h.name = host;
    h.site = "dc1";
    h.bmc_endpoint = endpoint.empty() ? "https://bmc-" + host : endpoint;
    h.credential_ref = cred;
    h.lifecycle_state = state;
    EXPECT_FALSE(store_->put_hosts({h}));
    storage::request_spec s;
    s.action = action;
    s.host = host;
    s.site = "dc1";
    s.submitter = "test";
    // The lifecycle's plan, without its capability check: a request stored behind the
    // API's back (or before the check) meets the steps' own.
    auto plan = lifecycle::rules{}.plan(action, h);
    EXPECT_TRUE(plan) << message_of(plan.error());
    plan->apply_to(s);
    auto out = store_->submit({s});
    EXPECT_TRUE(out);
    return out->at(0).id;
  }

  /// Plays the workers: claims ready jobs of every type and applies their outcomes, until
  /// nothing is ready (retries become ready when the clock moves past their backoff).
  void drive(int rounds = 20) {
    for (int round = 0; round < rounds; ++round) {
      bool any = false;
      for (const auto& type : registry_.types()) {
        auto jobs = store_->claim("test", type, 8, 60'000);
        ASSERT_TRUE(jobs);
        for (const auto& j : *jobs) {
          any = true;
          auto out = run_job(*registry_.find(type), j);
          storage::job_lease lease{j.id, j.lease_token};
          switch (out.what) {
            case job_outcome::kind::done:
              ASSERT_TRUE(store_->complete({{lease, out.text}}));
              break;
            case job_outcome::kind::retry:
              ASSERT_TRUE(store_->fail(lease, out.text, true));
              break;
            case job_outcome::kind::fail:
              ASSERT_TRUE(store_->fail(lease, out.text, false));
              break;
            case job_outcome::kind::park:
              ASSERT_FALSE(store_->park(lease, out.text, out.deadline));
              break;
            case job_outcome::kind::defer:
              ++deferrals_;
              ASSERT_FALSE(store_->defer(lease, out.deadline, out.text));
              break;
          }
        }
      }
      if (!any) clk_->advance(step_ms_);
    }
  }

  storage::request_view request(storage::request_id id) { return *store_->request(id); }
  std::string host_state(const std::string& name) { return store_->host(name)->lifecycle_state; }

  /// The installer's part: calls back with the token from the media URL.
  caf::error call_back(storage::request_id id, const std::string& status) {
    std::string url;
    {
      std::lock_guard lock{fake_->m};
      url = fake_->media;
    }
    auto pos = url.find("token=");
    if (pos == std::string::npos) return make_error(errc::not_found, "no token in " + url);
    return store_->redeem_callback(id, auth::sha256_hex(url.substr(pos + 6)),
                                   json{{"status", status}, {"message", "debian-12"}}.dump());
  }

  std::shared_ptr<manual_clock> clk_;
  std::unique_ptr<testing::scratch_store> db_;
  std::shared_ptr<storage::store> store_;
  std::shared_ptr<fake_bmc> fake_ = std::make_shared<fake_bmc>();
  handler_registry registry_;
  bmc_context context_;
  /// How far `drive` moves the clock when nothing is ready.
  time_ms step_ms_ = 60'000;
  int deferrals_ = 0;
};

TEST_F(BmcWorkflows, DiscoverRecordsFactsAndPowersOff) {
  auto id = submit("h1", "discover");
  drive();
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::succeeded) << r.error;
  auto facts = json::parse(store_->host("h1")->facts);
  EXPECT_EQ(facts["manufacturer"], "Contoso");
  EXPECT_EQ(facts["nics"][0]["mac"], "52:54:00:00:00:01");
  EXPECT_FALSE(fake_->on);
  EXPECT_EQ(host_state("h1"), "discovered");
}

TEST_F(BmcWorkflows, ReimageBootsTheInstallerWaitsForItsCallbackThenBootsFromDisk) {
  auto id = submit("h1", "reimage", "in_service");
  drive(3);
  auto r = request(id);
  ASSERT_EQ(r.jobs[2].type, "install");
  EXPECT_EQ(r.jobs[2].state, storage::job_state::parked) << "the install waits holding no worker";
  EXPECT_EQ(host_state("h1"), "provisioning");
  EXPECT_EQ(fake_->boot, "Cd/once");
  EXPECT_NE(
      fake_->media.find("callback=https://ab.example:8443/v1/callbacks/" + std::to_string(id)),
      std::string::npos)
      << fake_->media;
  ASSERT_FALSE(call_back(id, "succeeded"));
  drive();
  r = request(id);
  EXPECT_EQ(r.state, storage::request_state::succeeded) << r.error;
  EXPECT_EQ(fake_->boot, "Hdd");
  EXPECT_EQ(fake_->media, "") << "the installer was ejected";
  EXPECT_TRUE(fake_->on);
  EXPECT_EQ(host_state("h1"), "in_service");
}

TEST_F(BmcWorkflows, AFailedInstallFailsTheRequestWithTheInstallersReason) {
  auto id = submit("h1", "build", "ready");
  drive(3);
  ASSERT_FALSE(call_back(id, "failed"));
  drive();
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::failed);
  EXPECT_NE(r.error.find("the installer reported a failure: debian-12"), std::string::npos)
      << r.error;
  EXPECT_EQ(host_state("h1"), "provisioning_failed");
}

TEST_F(BmcWorkflows, ALostCallbackEndsInFailureAfterTheInstallDeadline) {
  auto id = submit("h1", "reimage", "in_service");
  drive(3);
  for (int i = 0; i < 10; ++i) {
    clk_->advance(601'000);
    ASSERT_TRUE(store_->recover(1000));
    drive(2);
  }
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::failed);
  EXPECT_NE(r.error.find("waiting"), std::string::npos) << r.error;
}

TEST_F(BmcWorkflows, WipeKeepsTheEvidenceAndDecommissionRetiresTheHost) {
  auto wipe = submit("h1", "wipe", "in_service");
  drive();
  auto r = request(wipe);
  ASSERT_EQ(r.state, storage::request_state::succeeded) << r.error;
  auto evidence = json::parse(r.jobs[1].result);
  EXPECT_EQ(evidence["erased"][0]["method"], "SecureErase");
  EXPECT_EQ(host_state("h1"), "ready");
  auto gone = submit("h2", "decommission", "ready");
  drive();
  EXPECT_EQ(request(gone).state, storage::request_state::succeeded);
  EXPECT_EQ(host_state("h2"), "decommissioned");
}

TEST_F(BmcWorkflows, AFailedEraseFailsTheWipeNamingTheDrive) {
  fake_->erase_ok = false;
  auto id = submit("h1", "wipe", "ready");
  drive();
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::failed);
  EXPECT_NE(r.error.find("erase failed on d0"), std::string::npos) << r.error;
  EXPECT_EQ(host_state("h1"), "wipe_failed");
}

TEST_F(BmcWorkflows, AnUnreachableBmcIsRetriedThenFailsWithTheReason) {
  fake_->down = true;
  auto id = submit("h1", "power_on", "ready");
  drive(100);
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::failed);
  EXPECT_NE(r.error.find("connection refused"), std::string::npos) << r.error;
  EXPECT_GE(r.jobs[0].attempts, 2) << "unreachable is worth retrying";
}

TEST_F(BmcWorkflows, WrongCredentialsOrAnUnknownEndpointFailAtOnce) {
  ::setenv("AB_BMC_TEST_WRONG", "admin:nope", 1);
  auto wrong = submit("h1", "power_off", "ready", "env:AB_BMC_TEST_WRONG");
  auto unknown = submit("h2", "power_off", "ready", "env:AB_BMC_TEST_CRED", "telnet://x");
  auto missing = submit("h3", "power_off", "ready", "env:AB_BMC_TEST_UNSET_VAR");
  drive();
  for (auto id : {wrong, unknown, missing}) {
    auto r = request(id);
    EXPECT_EQ(r.state, storage::request_state::failed);
    EXPECT_EQ(r.jobs[0].attempts, 1) << r.error;
  }
  EXPECT_NE(request(wrong).error.find("401"), std::string::npos);
  EXPECT_EQ(request(wrong).error.find("nope"), std::string::npos) << "never the password";
}

TEST_F(BmcWorkflows, ACredentialIsReadAtUseSoARotationTakesEffectOnTheNextJob) {
  ::setenv("AB_BMC_TEST_ROTATING", "admin:old-password", 1);
  auto before = submit("h1", "power_off", "ready", "env:AB_BMC_TEST_ROTATING");
  drive();
  EXPECT_EQ(request(before).state, storage::request_state::failed);
  ::setenv("AB_BMC_TEST_ROTATING", "admin:pw", 1);
  auto after = submit("h1", "power_off", "ready", "env:AB_BMC_TEST_ROTATING");
  drive();
  EXPECT_EQ(request(after).state, storage::request_state::succeeded) << request(after).error;
}

TEST_F(BmcWorkflows, AReferenceOutsideTheStoreFailsAtUseWithoutLeaking) {
  // Stored behind the API's back (an old row, another node's rules): refused again at use.
  ::setenv("AB_TEST_FOREIGN_SECRET", "admin:pw", 1);
  auto file = submit("h1", "power_off", "ready", "file:/etc/shadow");
  auto env = submit("h2", "power_off", "ready", "env:AB_TEST_FOREIGN_SECRET");
  drive();
  for (auto id : {file, env}) {
    auto r = request(id);
    EXPECT_EQ(r.state, storage::request_state::failed);
    EXPECT_EQ(r.error.find("/etc"), std::string::npos) << r.error;
    EXPECT_EQ(r.error.find("admin"), std::string::npos) << r.error;
  }
  EXPECT_TRUE(fake_->actions.empty()) << "the BMC was never asked";
}

TEST_F(BmcWorkflows, ARetriedPowerStepReconcilesInsteadOfActingTwice) {
  fake_->on = true;
  auto id = submit("h1", "power_on", "ready");
  // The first attempt "crashed": recovery hands the job out again as attempt 2.
  auto j = store_->claim("test", "power_on", 1, 1000);
  ASSERT_TRUE(j);
  ASSERT_EQ(j->size(), 1u);
  clk_->advance(2000);
  ASSERT_TRUE(store_->recover(1000));
  drive();
  EXPECT_EQ(request(id).state, storage::request_state::succeeded);
  EXPECT_TRUE(fake_->actions.empty()) << "already on: nothing sent";
}

TEST_F(BmcWorkflows, AReimageOutlastsABmcFailingHalfItsCallsForLongerThanItsAttempts) {
  // Every other BMC call answers 500 for 8 minutes (of the test's clock): a step of several
  // calls cannot pass meanwhile, and five attempts would be gone in the first minutes.
  fake_->flaky_until = clk_->now() + 8 * 60'000;
  step_ms_ = 15'000;
  auto id = submit("h1", "reimage", "in_service");
  for (int round = 0; round < 150 && request(id).jobs[2].state != storage::job_state::parked;
       ++round)
    drive(1);
  auto r = request(id);
  ASSERT_EQ(r.jobs[2].state, storage::job_state::parked) << r.error;
  EXPECT_GE(clk_->now(), fake_->flaky_until) << "the outage was outlasted, not avoided";
  ASSERT_FALSE(call_back(id, "succeeded"));
  drive(50);
  r = request(id);
  EXPECT_EQ(r.state, storage::request_state::succeeded) << r.error;
  // The install parks once and resumes once: two claims by design.
  for (const auto& j : r.jobs)
    EXPECT_LE(j.attempts, j.type == "install" ? 2 : 1) << j.type << ": " << j.error;
  EXPECT_GT(deferrals_, 0);
}

TEST_F(BmcWorkflows, AnEraseWhoseBmcAnsweredOne500IsRunAgainAndTheWipeSucceeds) {
  fake_->erase_500s = 1;
  auto id = submit("h1", "wipe", "ready");
  drive();
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::succeeded) << r.error;
  EXPECT_EQ(host_state("h1"), "ready");
}

TEST_F(BmcWorkflows, AnOpenCircuitSpendsNoAttempts) {
  // No transient budget: each failed call spends an attempt, as before. Only the waits while
  // the circuit is open must not.
  auto c = context_;
  c.bmc_retry_budget_ms = 0;
  bmc::guard_options g;
  g.failures_to_open = 1;
  g.open_for = std::chrono::minutes(5);
  auto guarded = std::make_shared<bmc::guarded_driver>(fake_, g, *clk_);
  c.drivers = std::make_shared<const bmc::driver_resolver>(
      std::map<std::string, std::shared_ptr<bmc::driver>>{{"redfish", guarded}});
  reregister(c);
  fake_->down_until = clk_->now() + 12 * 60'000;
  step_ms_ = 20'000;
  auto id = submit("h1", "power_on", "ready");
  drive(150);
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::succeeded) << r.error;
  // The first failure and one probe per half-open period of the 12-minute outage spent an
  // attempt each; the waits between them (dozens of claims) spent none.
  EXPECT_LE(r.jobs[0].attempts, 4);
  EXPECT_GE(deferrals_, 2) << "it waited through the open periods";
}

TEST_F(BmcWorkflows, AStepWhoseDriverLacksAnInterfaceItNeedsFailsAtOnceNamingIt) {
  auto id = submit("h1", "reimage", "in_service", "env:AB_BMC_TEST_CRED", "ipmi://bmc-h1");
  drive();
  auto r = request(id);
  EXPECT_EQ(r.state, storage::request_state::failed);
  ASSERT_EQ(r.jobs[1].type, "boot_installer");
  EXPECT_EQ(r.jobs[1].attempts, 1) << "not worth a retry";
  EXPECT_NE(r.jobs[1].error.find("needs media"), std::string::npos) << r.jobs[1].error;
  EXPECT_EQ(fake_->media, "") << "nothing was inserted";
  EXPECT_EQ(host_state("h1"), "provisioning_failed");
}

TEST_F(BmcWorkflows, WhatAnIpmiBmcCanDoRunsThroughItsInterfaces) {
  auto id = submit("h1", "discover", "new", "env:AB_BMC_TEST_CRED", "ipmi://bmc-h1");
  drive();
  EXPECT_EQ(request(id).state, storage::request_state::succeeded) << request(id).error;
  EXPECT_EQ(host_state("h1"), "discovered");
}

TEST_F(BmcWorkflows, DiscoveryRecordsWhatTheBmcLacks) {
  fake_->lacks = {bmc::capability::media};
  auto id = submit("h1", "discover");
  drive();
  ASSERT_EQ(request(id).state, storage::request_state::succeeded) << request(id).error;
  EXPECT_EQ(bmc::lacks_in_facts(store_->host("h1")->facts),
            bmc::capability_set{bmc::capability::media});
}

TEST_F(BmcWorkflows, EveryJobTypeOfTheWorkflowsHasAHandler) {
  for (const auto& [type, needs] : lifecycle::job_types()) {
    if (type.rfind("sim.", 0) != 0) {
      EXPECT_NE(registry_.find(type), nullptr) << type;
    }
  }
}

}  // namespace
}  // namespace ab::actors
