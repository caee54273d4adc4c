#include <gtest/gtest.h>

#include "core/release.hpp"

namespace ab::testing {

TEST(Release, RangesThatMeetAreCompatibleAndUseTheHighestVersionBothSpeak) {
  EXPECT_EQ(incompatibility({1, 2}, {1, 1}, "this router"), "");
  EXPECT_EQ(incompatibility({1, 2}, {2, 3}, "this router"), "");
  EXPECT_EQ(common_protocol({1, 2}, {1, 1}), 1);
  EXPECT_EQ(common_protocol({1, 2}, {2, 3}), 2);
  EXPECT_EQ(common_protocol({1, 2}, {1, 5}), 2);
}

TEST(Release, RangesThatDoNotMeetSayWhichSideToUpgrade) {
  EXPECT_EQ(incompatibility({1, 2}, {3, 4}, "this router"),
            "speaks protocol 3-4; this router speaks 1-2: upgrade this router");
  EXPECT_EQ(incompatibility({3, 4}, {1, 2}, "this router"),
            "speaks protocol 1-2; this router speaks 3-4: upgrade the node");
  EXPECT_EQ(incompatibility({2, 2}, {1, 1}, "this router"),
            "speaks protocol 1; this router speaks 2: upgrade the node");
  EXPECT_EQ(common_protocol({1, 2}, {3, 4}), 0);
}

TEST(Release, ThisBuildSpeaksItsOwnVersionAndThePreviousOne) {
  auto r = this_release("9.9.9");
  EXPECT_EQ(r.version, "9.9.9");
  EXPECT_EQ(r.protocol.max, protocol_version);
  // N and N-1 side by side: a release speaks the protocol of the one before it.
  EXPECT_LE(r.protocol.min, protocol_version - 1);
  EXPECT_EQ(r.schema_max, 0);
}

}  // namespace ab::testing
