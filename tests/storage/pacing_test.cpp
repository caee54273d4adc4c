// Conformance: pacing. A paced action starts on at most N hosts of a rack (power domain,
// site) at once and a site powers on at most M hosts a second; the rest waits its turn, in
// queue order, and never fails for it.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

/// A policy that paces `reimage` only: `per_rack` hosts of a rack, `power_ons` per second.
storage::queue_policy paced(int per_rack, int power_ons = 0, time_ms recheck = 1000) {
  storage::queue_policy p;
  p.backoff_base_ms = 1000;
  p.backoff_max_ms = 10000;
  p.pacing.actions = {"reimage"};
  p.pacing.per_rack = per_rack;
  p.pacing.per_power_domain = 0;
  p.pacing.per_site = 0;
  p.pacing.power_on_types = {"p"};
  p.pacing.power_ons_per_second = power_ons;
  p.pacing.recheck_ms = recheck;
  return p;
}

/// Registers `count` hosts `prefix0..` in `rack` of site dc1.
void put_rack(storage::store& db, const std::string& prefix, int count, const std::string& rack) {
  std::vector<storage::host_record> hosts;
  for (int i = 0; i < count; ++i) {
    storage::host_record h;
    h.name = prefix + std::to_string(i);
    h.site = "dc1";
    h.bmc_endpoint = "redfish://bmc-" + h.name;
    h.credential_ref = "cred";
    h.rack = rack;
    hosts.push_back(h);
  }
  auto err = db.put_hosts(hosts);
  ASSERT_FALSE(err) << message_of(err);
}

storage::request_spec reimage(const std::string& host, std::vector<std::string> types = {"t"}) {
  storage::request_spec s;
  s.action = "reimage";
  s.host = host;
  s.site = "dc1";
  s.submitter = "tester";
  for (const auto& t : types) s.chain.push_back({t, 3, 0});
  return s;
}

std::map<char, int> by_rack(const std::vector<storage::claimed_job>& jobs) {
  std::map<char, int> out;
  for (const auto& j : jobs) ++out[j.host[0]];
  return out;
}

}  // namespace

TEST_P(StoreConformance, PacingStartsAtMostNHostsOfARackAndTheRestWaitTheirTurn) {
  scratch_store db(GetParam(), clock_, paced(2));
  put_rack(*db, "a", 6, "r1");
  put_rack(*db, "b", 2, "r2");
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(db->submit({reimage("a" + std::to_string(i), {"t", "t"})})->at(0).id);
  for (int i = 0; i < 2; ++i) db->submit({reimage("b" + std::to_string(i), {"t", "t"})});
  auto first = db->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(first) << message_of(first.error());
  EXPECT_EQ(by_rack(*first), (std::map<char, int>{{'a', 2}, {'b', 2}}));
  EXPECT_TRUE(db->claim("node-a", "t", 10, 30000, {})->empty());

  // The others wait, still queued, with the limit as the reason.
  auto waiting = db->request(ids[5]);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, storage::request_state::queued);
  EXPECT_EQ(waiting->jobs.at(0).error.rfind("pacing: rack r1 has 2 of 2", 0), 0u)
      << waiting->jobs.at(0).error;

  // A request is in flight until its chain ends: its second job goes on, no new host starts.
  auto a = std::find_if(first->begin(), first->end(), [](auto& j) { return j.host[0] == 'a'; });
  ASSERT_FALSE(db->complete({{{a->id, a->lease_token}, ""}})->completed == 0);
  clock_->advance(1000);
  auto next = db->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->at(0).request, a->request);
  EXPECT_EQ(next->at(0).position, 1);
  ASSERT_EQ(db->complete({{{next->at(0).id, next->at(0).lease_token}, ""}})->completed, 1u);

  // One slot of r1 is free: exactly one more host of it starts, the oldest waiting.
  clock_->advance(1000);
  auto turn = db->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(turn);
  ASSERT_EQ(turn->size(), 1u);
  EXPECT_EQ(turn->at(0).host[0], 'a');
  EXPECT_EQ(turn->at(0).position, 0);
}

TEST_P(StoreConformance, PacingPowersOnAtMostMHostsASecondPerSite) {
  scratch_store db(GetParam(), clock_, paced(0, 3));
  for (int i = 0; i < 5; ++i) db->submit({spec("h" + std::to_string(i), {"p"})});
  auto first = db->claim("node-a", "p", 10, 30000, {});
  ASSERT_TRUE(first) << message_of(first.error());
  EXPECT_EQ(first->size(), 3u);
  clock_->advance(500);
  EXPECT_TRUE(db->claim("node-a", "p", 10, 30000, {})->empty());
  clock_->advance(600);
  auto second = db->claim("node-a", "p", 10, 30000, {});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->size(), 2u);
  // None failed for waiting: each ran its first attempt.
  for (const auto& j : *second) EXPECT_EQ(j.attempt, 1);
}

TEST_P(StoreConformance, PacingLeavesUnpacedActionsAndHostsWithoutARackAlone) {
  scratch_store db(GetParam(), clock_, paced(1));
  put_rack(*db, "a", 3, "r1");
  put_rack(*db, "n", 3, "");
  for (int i = 0; i < 3; ++i) {
    db->submit({spec("a" + std::to_string(i))});  // action "test": not paced
    db->submit({reimage("n" + std::to_string(i))});
  }
  auto all = db->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(all) << message_of(all.error());
  EXPECT_EQ(all->size(), 6u);
}

TEST_P(StoreConformance, PacingLimitsOnlyTheStartsALimitCanBindInAMixedClaim) {
  // One claim takes hosts of a limited rack, rack-less hosts and hosts with only a power
  // domain (no domain limit): only the rack's starts are limited; the others need no count.
  scratch_store db(GetParam(), clock_, paced(1));
  put_rack(*db, "a", 3, "r1");
  put_rack(*db, "n", 3, "");
  std::vector<storage::host_record> domain_only;
  for (int i = 0; i < 2; ++i) {
    storage::host_record h;
    h.name = "d" + std::to_string(i);
    h.site = "dc1";
    h.bmc_endpoint = "redfish://bmc-" + h.name;
    h.credential_ref = "cred";
    h.power_domain = "pd1";
    domain_only.push_back(h);
  }
  ASSERT_FALSE(db->put_hosts(domain_only));
  for (const auto* p : {"a", "n"})
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(db->submit({reimage(p + std::to_string(i))}));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(db->submit({reimage("d" + std::to_string(i))}));
  auto first = db->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(first) << message_of(first.error());
  EXPECT_EQ(by_rack(*first), (std::map<char, int>{{'a', 1}, {'d', 2}, {'n', 3}}));
  // The rack's limit still counts what the claim started: the rest of r1 waits.
  clock_->advance(1000);
  EXPECT_TRUE(db->claim("node-a", "t", 10, 30000, {})->empty());

  // A site limit binds every start, rack or not.
  auto site = paced(0);
  site.pacing.per_site = 2;
  scratch_store sited(GetParam(), clock_, site);
  put_rack(*sited, "n", 4, "");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(sited->submit({reimage("n" + std::to_string(i))}));
  auto some = sited->claim("node-a", "t", 10, 30000, {});
  ASSERT_TRUE(some) << message_of(some.error());
  EXPECT_EQ(some->size(), 2u);
}

TEST_P(StoreConformance, PacingNeverExceedsItsLimitUnderConcurrentClaims) {
  auto clk = std::make_shared<system_clock>();
  scratch_store db(GetParam(), clk, paced(2, 0, 1));
  constexpr int racks = 3, per = 8;
  std::map<std::string, std::string> rack_of;
  for (int r = 0; r < racks; ++r) {
    auto prefix = std::string(1, static_cast<char>('a' + r));
    put_rack(*db, prefix, per, "r" + std::to_string(r));
    for (int i = 0; i < per; ++i) {
      rack_of[prefix + std::to_string(i)] = "r" + std::to_string(r);
      ASSERT_TRUE(db->submit({reimage(prefix + std::to_string(i))}));
    }
  }
  std::atomic<int> done{0}, worst{0};
  std::atomic<bool> failed{false};
  auto sample = [&] {
    // The database's own count of requests in flight per rack, right after a claim.
    storage::request_filter f;
    f.state = storage::request_state::running;
    f.limit = 1000;
    auto page = db->requests(f);
    if (!page) return failed.store(true);
    std::map<std::string, int> n;
    for (const auto& r : page->items) {
      int now = ++n[rack_of[r.host]];
      int seen = worst.load();
      while (now > seen && !worst.compare_exchange_weak(seen, now)) {
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (done.load() < racks * per && std::chrono::steady_clock::now() < deadline) {
        auto got = db->claim("node-" + std::to_string(w), "t", 3, 30000, {});
        if (!got) {
          failed = true;
          return;
        }
        sample();
        for (const auto& j : *got) {
          std::this_thread::yield();
          auto c = db->complete({{{j.id, j.lease_token}, ""}});
          if (!c || c->completed != 1) failed = true;
          ++done;
        }
        if (got->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(done.load(), racks * per);
  EXPECT_LE(worst.load(), 2);
  EXPECT_GE(worst.load(), 1);
}

}  // namespace ab::testing
