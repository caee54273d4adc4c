#include <gtest/gtest.h>

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

}  // namespace ab::testing
