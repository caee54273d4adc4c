#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/fakes/manual_clock.hpp"

namespace ab::testing {

TEST(Clock, SystemClockReadsWallTimeSinceTheEpoch) {
  EXPECT_GT(system_clock{}.now(), 1'600'000'000'000);
}

TEST(Clock, SystemClockMonotonicReadingNeverGoesBack) {
  system_clock c;
  auto previous = c.monotonic();
  for (int i = 0; i < 100'000; ++i) {
    auto reading = c.monotonic();
    ASSERT_GE(reading, previous) << "reading " << i;
    previous = reading;
  }
}

TEST(Clock, SystemClockMonotonicReadingIsTheSteadyClock) {
  system_clock c;
  auto before = std::chrono::steady_clock::now();
  auto reading = c.monotonic();
  auto after = std::chrono::steady_clock::now();
  EXPECT_LE(before, reading);
  EXPECT_LE(reading, after);
}

TEST(Clock, ManualClockMovesOnlyWhenAdvanced) {
  manual_clock c{1000};
  auto mono = c.monotonic();
  EXPECT_EQ(c.now(), 1000);
  EXPECT_EQ(c.monotonic(), mono);
  c.advance(250);
  EXPECT_EQ(c.now(), 1250);
  EXPECT_EQ(c.monotonic() - mono, std::chrono::milliseconds(250));
}

TEST(Clock, ManualClockWallStepLeavesTheMonotonicClockAlone) {
  manual_clock c{1000};
  auto mono = c.monotonic();
  c.step_wall(-600);
  EXPECT_EQ(c.now(), 400);
  EXPECT_EQ(c.monotonic(), mono);
  c.step_wall(3'600'000);
  EXPECT_EQ(c.now(), 3'600'400);
  EXPECT_EQ(c.monotonic(), mono);
}

}  // namespace ab::testing
