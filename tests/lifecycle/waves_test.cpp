// Waves: the plan keeps at most max-unavailable hosts of a rack per wave, and the engine
// advances waves through the site database — pause, stop on the failure threshold with later
// hosts untouched, and a restart that carries on.

#include "lifecycle/waves.hpp"

#include <gtest/gtest.h>

#include <map>

#include "core/error.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::lifecycle {
namespace {

storage::host_record host(const std::string& name, const std::string& rack) {
  storage::host_record h;
  h.name = name;
  h.site = "dc1";
  h.bmc_endpoint = "https://bmc-" + name;
  h.credential_ref = "default";
  h.lifecycle_state = "in_service";
  h.facts = rack.empty() ? "{}" : R"({"rack":")" + rack + R"("})";
  return h;
}

TEST(WavePlan, NoWaveHoldsMoreThanMaxUnavailableHostsOfARack) {
  std::vector<storage::host_record> hosts;
  for (int i = 0; i < 7; ++i) hosts.push_back(host("a" + std::to_string(i), "ra"));
  for (int i = 0; i < 3; ++i) hosts.push_back(host("b" + std::to_string(i), "rb"));
  hosts.push_back(host("loose", ""));
  auto plan = plan_waves(hosts, "rack", 2, 0);
  ASSERT_EQ(plan.size(), hosts.size());
  std::map<std::pair<int, std::string>, int> per;
  int last = 0;
  for (const auto& w : plan) {
    EXPECT_GE(w.wave_no, last);  // in wave order
    last = w.wave_no;
    ++per[{w.wave_no, w.group}];
  }
  for (const auto& [key, n] : per) EXPECT_LE(n, 2) << "wave " << key.first << " " << key.second;
  EXPECT_EQ(last, 4);  // 7 hosts of rack ra, 2 at a time
  // A cap on the wave's size too.
  auto small = plan_waves(hosts, "rack", 2, 3);
  std::map<int, int> sizes;
  for (const auto& w : small) ++sizes[w.wave_no];
  for (const auto& [no, n] : sizes) EXPECT_LE(n, 3);
}

TEST(WavePlan, TheInventorysRackComesBeforeTheDiscoveredOne) {
  auto h = host("a0", "discovered-rack");
  EXPECT_EQ(group_of(h, "rack"), "discovered-rack");
  h.rack = "r12";
  EXPECT_EQ(group_of(h, "rack"), "r12");
  EXPECT_EQ(group_of(h, "service_group"), "");
}

class WaveEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<manual_clock>();
    db_ = std::make_unique<testing::scratch_store>("sqlite", clock_);
    store_ = std::shared_ptr<storage::store>(&**db_, [](storage::store*) {});
    rules_ = std::make_shared<const rules>();
  }

  /// Registers `n` hosts per rack of `racks` and plans a reimage of them all.
  storage::wave_id make_wave(const std::vector<std::string>& racks, int n, int threshold,
                             time_ms pause_ms = 0) {
    std::vector<storage::host_record> hosts;
    for (const auto& r : racks)
      for (int i = 0; i < n; ++i) hosts.push_back(host(r + "-" + std::to_string(i), r));
    EXPECT_FALSE(store_->put_hosts(hosts));
    storage::wave_record w;
    w.action = "reimage";
    w.created_by = "ops";
    w.max_unavailable = 1;
    w.pause_ms = pause_ms;
    w.failure_threshold = threshold;
    w.hosts = plan_waves(hosts, "rack", 1, 0);
    w.waves_total = w.hosts.back().wave_no;
    auto id = store_->create_wave(w);
    EXPECT_TRUE(id) << message_of(id.error());
    return id ? *id : 0;
  }

  storage::wave_record wave(storage::wave_id id) {
    auto w = store_->wave(id);
    EXPECT_TRUE(w) << message_of(w.error());
    return w ? *w : storage::wave_record{};
  }

  void round(wave_engine& e) {
    auto n = e.advance();
    ASSERT_TRUE(n) << message_of(n.error());
  }

  /// Runs every job of `id` to its end, or fails its first job for good.
  void finish(storage::request_id id, bool ok) {
    auto r = store_->request(id);
    ASSERT_TRUE(r);
    for (const auto& j : r->jobs) {
      auto claimed = store_->claim("worker", j.type, 1, 60000);
      ASSERT_TRUE(claimed);
      ASSERT_EQ(claimed->size(), 1u) << j.type;
      auto c = claimed->front();
      if (!ok) {
        ASSERT_TRUE(store_->fail({c.id, c.lease_token}, "the installer failed", false));
        return;
      }
      ASSERT_TRUE(store_->complete({{{c.id, c.lease_token}, ""}}));
    }
  }

  /// Hosts of `w` that have a request.
  static int touched(const storage::wave_record& w) {
    int n = 0;
    for (const auto& h : w.hosts) n += h.request != 0;
    return n;
  }

  std::shared_ptr<manual_clock> clock_;
  std::unique_ptr<testing::scratch_store> db_;
  std::shared_ptr<storage::store> store_;
  std::shared_ptr<const rules> rules_;
};

TEST_F(WaveEngine, StartsOneWaveAtATimeAndNeverMoreThanMaxUnavailablePerRack) {
  auto id = make_wave({"ra", "rb"}, 3, 0, 5000);
  wave_engine e{store_, rules_, clock_, "n1"};
  round(e);
  auto w = wave(id);
  EXPECT_EQ(w.current_wave, 1);
  EXPECT_EQ(touched(w), 2);  // one host of each rack
  // Nothing more starts while the wave runs.
  round(e);
  EXPECT_EQ(touched(wave(id)), 2);
  for (const auto& h : w.hosts)
    if (h.request) finish(h.request, true);
  round(e);  // the wave ended: the pause begins
  EXPECT_EQ(wave(id).current_wave, 1);
  EXPECT_GT(wave(id).next_at, 0);
  round(e);
  EXPECT_EQ(touched(wave(id)), 2);  // still pausing
  clock_->advance(5000);
  round(e);
  w = wave(id);
  EXPECT_EQ(w.current_wave, 2);
  EXPECT_EQ(touched(w), 4);
  // At no time more than one host of a rack has an unfinished request.
  std::map<std::string, int> active;
  for (const auto& h : w.hosts)
    if (h.state == "running") ++active[h.group];
  for (const auto& [rack, n] : active) EXPECT_LE(n, 1) << rack;
}

TEST_F(WaveEngine, StopsOnTheFailureThresholdAndLeavesLaterHostsUntouched) {
  auto id = make_wave({"ra", "rb", "rc", "rd"}, 3, 25);
  wave_engine e{store_, rules_, clock_, "n1"};
  round(e);
  auto w = wave(id);
  ASSERT_EQ(touched(w), 4);
  // Two of the wave's four fail: 50% passes the 25% threshold.
  int i = 0;
  for (const auto& h : w.hosts)
    if (h.request) finish(h.request, i++ >= 2);
  round(e);
  w = wave(id);
  EXPECT_EQ(w.state, "stopped");
  EXPECT_NE(w.reason.find("2 of 4 hosts failed"), std::string::npos) << w.reason;
  for (int k = 0; k < 5; ++k) round(e);
  w = wave(id);
  EXPECT_EQ(touched(w), 4);
  for (const auto& h : w.hosts) {
    if (h.wave_no == 1) continue;
    EXPECT_EQ(h.state, "pending") << h.host;
    // No request exists for any later host.
    storage::request_filter f;
    f.host = h.host;
    EXPECT_TRUE(store_->requests(f)->items.empty()) << h.host;
  }
}

TEST_F(WaveEngine, AFailureWithinTheThresholdGoesOn) {
  auto id = make_wave({"ra", "rb", "rc", "rd"}, 2, 25);
  wave_engine e{store_, rules_, clock_, "n1"};
  round(e);
  auto w = wave(id);
  int i = 0;
  for (const auto& h : w.hosts)
    if (h.request) finish(h.request, i++ != 0);
  round(e);
  round(e);
  w = wave(id);
  EXPECT_EQ(w.state, "running");
  EXPECT_EQ(w.current_wave, 2);
}

TEST_F(WaveEngine, ANodeRestartCarriesOnFromTheDatabase) {
  auto id = make_wave({"ra", "rb"}, 2, 0);
  {
    wave_engine e{store_, rules_, clock_, "n1", 10000};
    round(e);
  }
  for (const auto& h : wave(id).hosts)
    if (h.request) finish(h.request, true);
  // Another store on the same database and another owner: the first one's lease must expire.
  auto other = db_->reopen();
  ASSERT_TRUE(other);
  std::shared_ptr<storage::store> second = std::move(*other);
  wave_engine e2{second, rules_, clock_, "n2", 10000};
  EXPECT_EQ(*e2.advance(), 0u);
  EXPECT_EQ(wave(id).current_wave, 1);
  clock_->advance(10001);
  round(e2);
  EXPECT_EQ(wave(id).current_wave, 2);
  for (const auto& h : wave(id).hosts)
    if (h.wave_no == 2) finish(h.request, true);
  round(e2);
  EXPECT_EQ(wave(id).state, "succeeded");
}

TEST_F(WaveEngine, AnOperatorStopIsNeverUndone) {
  auto id = make_wave({"ra"}, 3, 0);
  wave_engine e{store_, rules_, clock_, "n1"};
  round(e);
  ASSERT_TRUE(*store_->stop_wave(id, "stopped by ops"));
  for (const auto& h : wave(id).hosts)
    if (h.request) finish(h.request, true);
  round(e);
  round(e);
  auto w = wave(id);
  EXPECT_EQ(w.state, "stopped");
  EXPECT_EQ(touched(w), 1);
}

TEST_F(WaveEngine, AWaveWaitsForItsCreatorsHourlyQuota) {
  auto id = make_wave({"ra", "rb"}, 2, 0);
  auto w = wave(id);
  // The creator spent 3 of 4 hosts of the hour elsewhere; a wave of 2 does not fit.
  ASSERT_TRUE(store_->charge_quota({"ops", "wipe", 3, 4})->charged);
  db_->raw_sql("UPDATE waves SET quota_per_hour = 4 WHERE id = " + std::to_string(id));
  wave_engine e{store_, rules_, clock_, "n1"};
  round(e);
  w = wave(id);
  EXPECT_EQ(w.current_wave, 0);
  EXPECT_EQ(touched(w), 0);
  EXPECT_NE(w.reason.find("waits for the hourly quota"), std::string::npos) << w.reason;
  round(e);
  EXPECT_EQ(touched(wave(id)), 0);
  clock_->advance(storage::quota_window_ms);
  round(e);
  w = wave(id);
  EXPECT_EQ(w.current_wave, 1);
  EXPECT_EQ(touched(w), 2);
  EXPECT_EQ(*store_->quota_used("ops"), 2);
}

}  // namespace
}  // namespace ab::lifecycle
