// What an audit entry keeps of each field: valid UTF-8, bounded, marked when cut.

#include <gtest/gtest.h>

#include <string>

#include "storage/types.hpp"

namespace ab::testing {

namespace {
const std::string marker = storage::truncation_marker;
}

TEST(AuditBounds, ShortValidTextIsKeptAsIs) {
  EXPECT_EQ(storage::bounded_text("GET /v1/hosts/web-1 — ok", 100), "GET /v1/hosts/web-1 — ok");
}

TEST(AuditBounds, LongTextIsCutToTheBoundAndEndsInTheMarker) {
  auto out = storage::bounded_text(std::string(100000, 'x'), 64);
  EXPECT_EQ(out.size(), 64u);
  EXPECT_EQ(out, std::string(64 - marker.size(), 'x') + marker);
}

TEST(AuditBounds, ACutNeverSplitsACharacter) {
  std::string euros;
  for (int i = 0; i < 100; ++i) euros += "€";  // three bytes each
  for (std::size_t bound = 20; bound < 40; ++bound) {
    auto out = storage::bounded_text(euros, bound);
    ASSERT_LE(out.size(), bound);
    auto body = out.substr(0, out.size() - marker.size());
    EXPECT_EQ(body.size() % 3, 0u) << bound;
    EXPECT_EQ(out.substr(body.size()), marker);
  }
}

TEST(AuditBounds, InvalidBytesAndControlCharactersBecomeReplacementCharacters) {
  EXPECT_EQ(storage::bounded_text("a\xff"
                                  "b\nc\xc3",
                                  100),
            "a\uFFFDb\uFFFDc\uFFFD");
  EXPECT_EQ(storage::bounded_text("\xc0\xaf", 100), "\uFFFD\uFFFD") << "overlong";
  EXPECT_EQ(storage::bounded_text("\xed\xa0\x80", 100), "\uFFFD\uFFFD\uFFFD") << "surrogate";
}

TEST(AuditBounds, EveryFieldOfAnEntryIsBounded) {
  storage::audit_entry e;
  e.actor = std::string(1000, 'a');
  e.source = std::string(1000, 's');
  e.action = std::string(1000, 'c');
  e.target = std::string(100000, 't');
  e.decision = std::string(1000, 'd');
  e.detail = std::string(100000, 'x');
  auto b = storage::bounded(e);
  EXPECT_LE(b.actor.size(), storage::audit_name_limit);
  EXPECT_LE(b.source.size(), storage::audit_name_limit);
  EXPECT_LE(b.action.size(), storage::audit_action_limit);
  EXPECT_LE(b.target.size(), storage::audit_text_limit);
  EXPECT_LE(b.decision.size(), storage::audit_decision_limit);
  EXPECT_LE(b.detail.size(), storage::audit_text_limit);
}

}  // namespace ab::testing
