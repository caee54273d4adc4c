// The finished requests a node keeps for GETs: only finished ones, until they expire, at most
// a bounded number.

#include "net/api/finished_requests.hpp"

#include <gtest/gtest.h>

#include "tests/fakes/manual_clock.hpp"

namespace ab::testing {
namespace {

storage::request_view request(storage::request_id id, storage::request_state state) {
  storage::request_view r;
  r.id = id;
  r.host = "h" + std::to_string(id);
  r.state = state;
  storage::job_view j;
  j.id = id * storage::max_chain_length;
  j.type = "power_on";
  j.state = storage::is_terminal(state) ? storage::job_state::done : storage::job_state::ready;
  r.jobs = {j};
  return r;
}

TEST(FinishedRequests, AFinishedRequestIsAnsweredAsReadUntilItsEntryExpires) {
  auto clk = std::make_shared<manual_clock>();
  net::finished_requests kept{clk, 5000};
  kept.keep(request(7, storage::request_state::succeeded));
  auto hit = kept.find(7);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->host, "h7");
  ASSERT_EQ(hit->jobs.size(), 1u);
  EXPECT_EQ(hit->jobs[0].type, "power_on");
  clk->advance(4999);
  EXPECT_TRUE(kept.find(7));
  // Past its age the store is asked again: a request pruned meanwhile is gone.
  clk->advance(1);
  EXPECT_FALSE(kept.find(7));
  EXPECT_EQ(kept.size(), 0u);
}

TEST(FinishedRequests, AnUnfinishedRequestIsNeverKept) {
  auto clk = std::make_shared<manual_clock>();
  net::finished_requests kept{clk, 5000};
  for (auto state : {storage::request_state::queued, storage::request_state::running}) {
    kept.keep(request(1, state));
    EXPECT_FALSE(kept.find(1));
  }
  for (auto state : {storage::request_state::failed, storage::request_state::cancelled}) {
    kept.keep(request(2, state));
    EXPECT_TRUE(kept.find(2));
  }
}

TEST(FinishedRequests, BeyondItsCapacityTheOldestIsDroppedFirst) {
  auto clk = std::make_shared<manual_clock>();
  net::finished_requests kept{clk, 5000, 2};
  kept.keep(request(1, storage::request_state::succeeded));
  kept.keep(request(2, storage::request_state::succeeded));
  kept.keep(request(3, storage::request_state::succeeded));
  EXPECT_FALSE(kept.find(1));
  EXPECT_TRUE(kept.find(2));
  EXPECT_TRUE(kept.find(3));
  EXPECT_EQ(kept.size(), 2u);
}

TEST(FinishedRequests, ReadingAgainRenewsTheEntryAndAZeroAgeKeepsNothing) {
  auto clk = std::make_shared<manual_clock>();
  net::finished_requests kept{clk, 5000};
  kept.keep(request(1, storage::request_state::succeeded));
  clk->advance(4000);
  kept.keep(request(1, storage::request_state::succeeded));
  clk->advance(4000);
  EXPECT_TRUE(kept.find(1));
  EXPECT_EQ(kept.size(), 1u);
  net::finished_requests off{clk, 0};
  off.keep(request(1, storage::request_state::succeeded));
  EXPECT_FALSE(off.find(1));
}

}  // namespace
}  // namespace ab::testing
