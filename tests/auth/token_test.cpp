#include <gtest/gtest.h>

#include <set>

#include "auth/token.hpp"

namespace ab::testing {

TEST(Token, Sha256HexMatchesTheStandardTestVectors) {
  EXPECT_EQ(auth::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(auth::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Token, RandomTokensAreUrlSafeOfTheRightLengthAndDistinct) {
  EXPECT_EQ(auth::random_token().size(), 43u);
  EXPECT_EQ(auth::random_token(16).size(), 22u);
  EXPECT_EQ(auth::random_token(3).size(), 4u);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = auth::random_token();
    EXPECT_EQ(
        t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos)
        << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Token, ConstantTimeEqualComparesContentAndLength) {
  EXPECT_TRUE(auth::constant_time_equal("secret", "secret"));
  EXPECT_TRUE(auth::constant_time_equal("", ""));
  EXPECT_FALSE(auth::constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(auth::constant_time_equal("secret", "secret1"));
  EXPECT_FALSE(auth::constant_time_equal("", "x"));
}

}  // namespace ab::testing
