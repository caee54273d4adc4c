// The Redfish driver's kept sessions: the cache alone (idle and bounded, on a manual clock)
// against the DMTF mockups' fake, and the driver's sessions against an embedded ab-bmcsim fleet.

#include "bmc/detail/redfish_sessions.hpp"

#include "bmc/detail/curl_http.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bmc/redfish_driver.hpp"
#include "bmcsim/fleet.hpp"
#include "core/error.hpp"
#include "tests/bmc/fake_redfish.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace {

using ab::bmc::detail::redfish_client;
using ab::bmc::detail::redfish_sessions;
using ab::bmc::detail::session_limits;
using ab::testing::fake_redfish;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string rackmount = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-rackmount1";

ab::testing::fake_redfish_options mockup(const std::string& prefix) {
  ab::testing::fake_redfish_options o;
  o.mockup_dir = rackmount;
  o.prefix = prefix;
  return o;
}

session_limits idle_after(std::chrono::milliseconds idle) {
  session_limits l;
  l.idle = idle;
  return l;
}

ab::bmc::target target_for(const fake_redfish& f) {
  ab::bmc::target t;
  t.endpoint = f.endpoint();
  t.user = "admin";
  t.password = "secret";
  t.timeout = 5s;
  return t;
}

/// A session logged in to `t`, as a driver call leaves it.
std::unique_ptr<ab::bmc::detail::redfish_session> logged_in(const ab::bmc::target& t) {
  auto c = redfish_client::open(t, {});
  if (!c) return nullptr;
  return (*c)->release();
}

class RedfishSessions : public ::testing::Test {
 protected:
  std::shared_ptr<ab::manual_clock> clock_ = std::make_shared<ab::manual_clock>();
  fake_redfish f_{mockup("/bmc/m1")};
};

TEST_F(RedfishSessions, ASessionIdleLongerThanTheLimitIsLoggedOut) {
  // Within the mockup's SessionTimeout (30 s), the driver's own limit is the shorter one.
  redfish_sessions sessions(idle_after(20s), clock_);
  auto t = target_for(f_);
  sessions.give_back(t, logged_in(t));
  ASSERT_EQ(f_.open_sessions(), 1u);
  clock_->advance(10'000);
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 1u);
  EXPECT_EQ(sessions.size(), 1u);
  clock_->advance(11'000);
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 0u);
  EXPECT_EQ(sessions.size(), 0u);
  EXPECT_EQ(sessions.take(t), nullptr);
}

TEST_F(RedfishSessions, ASessionIsLoggedOutBeforeTheBmcsSessionTimeoutWouldEndIt) {
  // The mockup's SessionService says SessionTimeout 30 (seconds): well below the 60 s limit.
  redfish_sessions sessions(idle_after(60s), clock_);
  auto t = target_for(f_);
  auto s = logged_in(t);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->timeout, 30s);
  sessions.give_back(t, std::move(s));
  clock_->advance(26'000);
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 1u);
  clock_->advance(2'000);
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 0u) << "a tenth before the BMC's timeout";
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(RedfishSessions, ASessionTakenNearItsTimeoutIsRenewedKeepingWhatWasFound) {
  redfish_sessions sessions(idle_after(60s), clock_);
  auto t = target_for(f_);
  auto s = logged_in(t);
  ASSERT_NE(s, nullptr);
  s->found["first:Systems"] = "/redfish/v1/Systems/437XR1138R2";
  sessions.give_back(t, std::move(s));
  clock_->advance(28'000);
  auto again = sessions.take(t);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->token.empty()) << "logged out before the BMC ends it";
  EXPECT_EQ(f_.open_sessions(), 0u);
  auto c = redfish_client::open(t, {}, std::move(again));
  ASSERT_TRUE(c) << ab::message_of(c.error());
  EXPECT_TRUE((*c)->has_session());
  EXPECT_EQ(f_.logins(), 2);
  EXPECT_EQ(f_.open_sessions(), 1u);
  EXPECT_NE((*c)->recall("first:Systems"), nullptr);
}

TEST_F(RedfishSessions, ALongOrUnreadableSessionTimeoutLeavesTheDriversLimit) {
  auto service = f_.resource("/redfish/v1/SessionService");
  for (const json& timeout : {json(3600), json("soon"), json(-5)}) {
    service["SessionTimeout"] = timeout;
    f_.set_resource("/redfish/v1/SessionService", service);
    redfish_sessions sessions(idle_after(20s), clock_);
    auto t = target_for(f_);
    auto s = logged_in(t);
    ASSERT_NE(s, nullptr);
    sessions.give_back(t, std::move(s));
    clock_->advance(19'000);
    sessions.log_out_idle();
    // A negative timeout is clamped to a second: that session is gone already.
    EXPECT_EQ(f_.open_sessions(), timeout == json(-5) ? 0u : 1u) << timeout;
    clock_->advance(2'000);
    sessions.log_out_idle();
    EXPECT_EQ(f_.open_sessions(), 0u) << timeout;
  }
}

TEST_F(RedfishSessions, ATakenSessionIsNotLoggedOutUnderItsCall) {
  redfish_sessions sessions(idle_after(60s), clock_);
  auto t = target_for(f_);
  sessions.give_back(t, logged_in(t));
  auto mine = sessions.take(t);
  ASSERT_NE(mine, nullptr);
  clock_->advance(120'000);
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 1u);
  // Handed back, it is fresh again.
  sessions.give_back(t, std::move(mine));
  sessions.log_out_idle();
  EXPECT_EQ(f_.open_sessions(), 1u);
}

TEST_F(RedfishSessions, BeyondTheBoundTheLeastRecentlyUsedIsLoggedOut) {
  fake_redfish other(mockup("/bmc/m2"));
  session_limits one;
  one.max_sessions = 1;
  redfish_sessions sessions(one, clock_);
  auto t1 = target_for(f_);
  auto t2 = target_for(other);
  sessions.give_back(t1, logged_in(t1));
  clock_->advance(1000);
  sessions.give_back(t2, logged_in(t2));
  EXPECT_EQ(sessions.size(), 1u);
  EXPECT_EQ(f_.open_sessions(), 0u);
  EXPECT_EQ(other.open_sessions(), 1u);
  EXPECT_NE(sessions.take(t2), nullptr);
}

TEST_F(RedfishSessions, OtherCredentialsDoNotGetTheSessionAndEndIt) {
  redfish_sessions sessions({}, clock_);
  auto t = target_for(f_);
  sessions.give_back(t, logged_in(t));
  auto rotated = t;
  rotated.password = "rotated";
  EXPECT_EQ(sessions.take(rotated), nullptr);
  EXPECT_EQ(f_.open_sessions(), 0u);
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(RedfishSessions, OfTwoSessionsHandedBackForOneBmcOneIsKeptAndTheOtherEnds) {
  redfish_sessions sessions({}, clock_);
  auto t = target_for(f_);
  // Two calls to one BMC at once (no guard around the driver): each logged in.
  auto first = logged_in(t);
  auto second = logged_in(t);
  ASSERT_EQ(f_.open_sessions(), 2u);
  sessions.give_back(t, std::move(first));
  sessions.give_back(t, std::move(second));
  EXPECT_EQ(sessions.size(), 1u);
  EXPECT_EQ(f_.open_sessions(), 1u);
}

TEST_F(RedfishSessions, EverySessionKeptIsLoggedOutAtTheEnd) {
  fake_redfish other(mockup("/bmc/m2"));
  {
    redfish_sessions sessions({}, clock_);
    for (const auto* f : {&f_, &other})
      sessions.give_back(target_for(*f), logged_in(target_for(*f)));
    EXPECT_EQ(f_.open_sessions() + other.open_sessions(), 2u);
  }
  EXPECT_EQ(f_.open_sessions() + other.open_sessions(), 0u);
}

/// The driver against BMCs of an embedded ab-bmcsim fleet, counted by the fleet.
class DriverOnBmcsim : public ::testing::Test {
 protected:
  void SetUp() override {
    ab::bmc::sim::fleet_options o;
    o.time_scale = 0;
    ab::net::server_options s;
    s.port = 0;
    auto started = ab::bmc::sim::fleet_server::start(o, s);
    ASSERT_TRUE(started) << ab::message_of(started.error());
    fleet_ = std::move(*started);
  }

  ab::bmc::target bmc(const std::string& id) const {
    ab::bmc::target t;
    t.endpoint = "http://127.0.0.1:" + std::to_string(fleet_->port()) + "/bmc/" + id;
    t.user = "admin";
    t.password = "password";
    t.timeout = 5s;
    return t;
  }

  json stats() { return fleet_->sim().stats(); }

  /// What a reimage asks of one BMC, step by step, as the workflow does.
  static void reimage(ab::bmc::redfish_driver& d, const ab::bmc::target& t) {
    using ab::bmc::boot_device;
    using ab::bmc::power_action;
    ASSERT_TRUE(d.power(t));
    ASSERT_FALSE(d.set_power(t, power_action::off));
    ASSERT_FALSE(d.set_media(t, "http://images/installer.iso"));
    ASSERT_FALSE(d.set_boot(t, boot_device::cd, true));
    ASSERT_TRUE(d.power(t));
    ASSERT_FALSE(d.set_power(t, power_action::on));
    ASSERT_FALSE(d.set_media(t, ""));
    ASSERT_FALSE(d.set_boot(t, boot_device::disk, false));
    ASSERT_FALSE(d.set_power(t, power_action::force_restart));
    ASSERT_TRUE(d.power(t));
  }

  std::unique_ptr<ab::bmc::sim::fleet_server> fleet_;
};

TEST_F(DriverOnBmcsim, AReimageOfEachBmcCostsOneLoginAndTheEndLogsOutEveryOne) {
  {
    ab::bmc::redfish_driver driver;
    for (const auto* id : {"h1", "h2", "h3"}) reimage(driver, bmc(id));
    EXPECT_EQ(stats()["logins"], 3);
    EXPECT_EQ(stats()["sessions"], 3);
    // Again, in the same sessions.
    for (const auto* id : {"h1", "h2", "h3"}) reimage(driver, bmc(id));
    EXPECT_EQ(stats()["logins"], 3);
    EXPECT_EQ(stats()["logouts"], 0);
  }
  EXPECT_EQ(stats()["logouts"], 3);
  EXPECT_EQ(stats()["sessions"], 0);
}

TEST_F(DriverOnBmcsim, ASessionDeletedOnTheBmcIsRenewedOnceAndTheCallSucceeds) {
  ab::bmc::redfish_driver driver;
  auto t = bmc("h1");
  ASSERT_TRUE(driver.power(t));
  ASSERT_EQ(stats()["logins"], 1);
  // Someone at the BMC ends the session (an operator, a BMC that times sessions out).
  ab::bmc::detail::http_call end;
  end.method = "DELETE";
  end.url = t.endpoint + "/redfish/v1/SessionService/Sessions/1";
  end.user = "admin";
  end.password = "password";
  auto ended = ab::bmc::detail::perform(end);
  ASSERT_TRUE(ended && ended->status == 204);
  auto s = driver.power(t);
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(stats()["logins"], 2);
  // The renewed session is kept, with what the first call found.
  auto before = stats()["requests"].get<int>();
  ASSERT_TRUE(driver.power(t));
  EXPECT_EQ(stats()["requests"].get<int>() - before, 1);
  EXPECT_EQ(stats()["logins"], 2);
}

TEST_F(DriverOnBmcsim, ARefusedRenewalFailsTheCallAndTheNextCallLogsInAgain) {
  ab::bmc::redfish_driver driver;
  auto t = bmc("h1");
  ASSERT_TRUE(driver.power(t));
  ab::bmc::sim::fault_set refuse;
  refuse.auth_fail = true;
  fleet_->sim().set_faults("h1", refuse);
  EXPECT_TRUE(ab::is(driver.power(t).error(), ab::errc::unauthenticated));
  EXPECT_EQ(stats()["logins"], 1) << "a refused login creates no session";
  fleet_->sim().set_faults("h1", {});
  auto s = driver.power(t);
  ASSERT_TRUE(s) << ab::message_of(s.error());
  EXPECT_EQ(stats()["logins"], 2);
}

}  // namespace
