#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace ab::testing {

TEST(Errors, CarryTheirCodeAndSentence) {
  auto err = make_error(errc::host_busy, "host 'h1' has active request 7");
  EXPECT_TRUE(is(err, errc::host_busy));
  EXPECT_FALSE(is(err, errc::conflict));
  EXPECT_EQ(message_of(err), "host_busy: host 'h1' has active request 7");
  EXPECT_FALSE(is(caf::error{}, errc::host_busy));
  EXPECT_EQ(message_of(caf::error{}), "none");
}

TEST(Clock, ManualClockMovesOnlyWhenAdvanced) {
  manual_clock c{1000};
  EXPECT_EQ(c.now(), 1000);
  c.advance(250);
  EXPECT_EQ(c.now(), 1250);
  EXPECT_GT(system_clock{}.now(), 1'600'000'000'000);
}

}  // namespace ab::testing
