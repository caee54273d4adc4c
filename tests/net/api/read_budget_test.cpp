#include "net/api/read_budget.hpp"

#include <gtest/gtest.h>

namespace ab::testing {

namespace {

/// A budget on a clock the test moves.
struct manual {
  double now = 1000;
  net::read_budget budget;
  explicit manual(double ms_per_s) : budget(ms_per_s, [this] { return now; }) {}
};

}  // namespace

TEST(ReadBudget, AReadIsRefusedOnceTheReadsTookTheirShareUntilTheBucketRefills) {
  manual m{100};  // 100 ms of reads a second
  EXPECT_TRUE(m.budget.admit());
  m.budget.spend(60);
  EXPECT_TRUE(m.budget.admit());
  m.budget.spend(60);  // 120 ms spent of 100
  EXPECT_FALSE(m.budget.admit());
  EXPECT_DOUBLE_EQ(m.budget.left(), -20);
  m.now += 100;  // 10 ms back: still overdrawn
  EXPECT_FALSE(m.budget.admit());
  m.now += 150;  // 25 ms in all: 5 left
  EXPECT_TRUE(m.budget.admit());
  EXPECT_DOUBLE_EQ(m.budget.left(), 5);
}

TEST(ReadBudget, TheBucketHoldsAtMostOneSecondsWorthAndBoundsItsDebt) {
  manual m{50};
  m.now += 60 * 1000;  // a quiet minute saves no more than one second's share
  EXPECT_DOUBLE_EQ(m.budget.left(), 50);
  m.budget.spend(10000);  // reads in flight together overdraw it by five seconds at most
  EXPECT_DOUBLE_EQ(m.budget.left(), -250);
  m.now += 5000;
  EXPECT_FALSE(m.budget.admit());
  m.now += 100;
  EXPECT_TRUE(m.budget.admit());
}

TEST(ReadBudget, ZeroTurnsItOffAndAClockGoingBackRefillsNothing) {
  manual off{0};
  off.budget.spend(1e9);
  EXPECT_FALSE(off.budget.enabled());
  EXPECT_TRUE(off.budget.admit());
  manual m{10};
  m.budget.spend(10);
  m.now -= 1000;
  EXPECT_FALSE(m.budget.admit());
  m.now += 1100;  // 100 ms after the latest time seen: 1 ms back
  EXPECT_TRUE(m.budget.admit());
}

}  // namespace ab::testing
