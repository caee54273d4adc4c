#include "net/api/failure_limiter.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "tests/fakes/manual_clock.hpp"

namespace ab::testing {

namespace {

struct Limiter : ::testing::Test {
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  net::failure_limiter limiter{{3, 1000, 4}, clock};
};

}  // namespace

TEST_F(Limiter, ASourceIsRefusedAfterItsBurstUntilTheWindowHasPassed) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.blocked("10.0.0.1"));
    limiter.record_failure("10.0.0.1");
  }
  clock->advance(400);
  auto wait = limiter.blocked("10.0.0.1");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 600) << "until the window that opened at the first failure closes";
  clock->advance(599);
  EXPECT_TRUE(limiter.blocked("10.0.0.1"));
  clock->advance(1);
  EXPECT_FALSE(limiter.blocked("10.0.0.1"));
  limiter.record_failure("10.0.0.1");
  EXPECT_FALSE(limiter.blocked("10.0.0.1")) << "a fresh window";
}

TEST_F(Limiter, SourcesAreCountedApart) {
  for (int i = 0; i < 3; ++i) limiter.record_failure("10.0.0.1");
  limiter.record_failure("10.0.0.2");
  EXPECT_TRUE(limiter.blocked("10.0.0.1"));
  EXPECT_FALSE(limiter.blocked("10.0.0.2"));
}

TEST_F(Limiter, MemoryIsBoundedByForgettingTheOldestSource) {
  for (int i = 0; i < 3; ++i) limiter.record_failure("10.0.0.1");
  for (int s = 2; s <= 20; ++s) {
    clock->advance(1);
    limiter.record_failure("10.0.0." + std::to_string(s));
  }
  EXPECT_EQ(limiter.tracked(), 4u);
  EXPECT_FALSE(limiter.blocked("10.0.0.1")) << "evicted first";
  clock->advance(1000);
  EXPECT_FALSE(limiter.blocked("10.0.0.20"));
  EXPECT_EQ(limiter.tracked(), 0u) << "expired sources are dropped";
}

TEST_F(Limiter, ZeroFailuresTurnsTheLimitOff) {
  net::failure_limiter off{{0, 1000, 4}, clock};
  for (int i = 0; i < 100; ++i) off.record_failure("10.0.0.1");
  EXPECT_FALSE(off.blocked("10.0.0.1"));
  EXPECT_EQ(off.tracked(), 0u);
}

TEST(SourceKey, Ipv6CountsByItsSlash64AndMappedIpv4AsIpv4) {
  EXPECT_EQ(net::source_key("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(net::source_key("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  EXPECT_EQ(net::source_key("2001:db8:0:1:ffff::9"), net::source_key("2001:db8:0:1::5"));
  EXPECT_NE(net::source_key("2001:db8:0:2::5"), net::source_key("2001:db8:0:1::5"));
  EXPECT_EQ(net::source_key("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(net::source_key("not an address"), "not an address");
}

}  // namespace ab::testing
