#include <gtest/gtest.h>

#include "core/error.hpp"
#include "storage/mysql_store.hpp"
#include "storage/store.hpp"

namespace ab::testing {

TEST(MysqlUrl, ParsesEveryPart) {
  auto t = storage::parse_mysql_url("mysql://ab:s%40cret@db.example:3307/autobuild");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->user, "ab");
  EXPECT_EQ(t->password, "s@cret");
  EXPECT_EQ(t->host, "db.example");
  EXPECT_EQ(t->port, 3307);
  EXPECT_EQ(t->database, "autobuild");
}

TEST(MysqlUrl, DefaultsThePort) {
  auto t = storage::parse_mysql_url("mysql://ab:pw@127.0.0.1/x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 3306);
}

TEST(MysqlUrl, RefusesMalformedUrlsWithoutEchoingThePassword) {
  for (const char* bad : {"postgres://a:b@h/d", "mysql://h/d", "mysql://:pw@h/d", "mysql://a:pw@h",
                          "mysql://a:pw@h/", "mysql://a:pw@:3306/d", "mysql://a:pw@h:x/d",
                          "mysql://a:pw@h:99999/d", "mysql://a:p%zz@h/d", "mysql://a:p%2@h/d"}) {
    auto t = storage::parse_mysql_url(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_TRUE(is(t.error(), errc::bad_config));
    EXPECT_EQ(message_of(t.error()).find("pw"), std::string::npos);
  }
}

TEST(StoreUrl, UnknownSchemesAreAConfigurationError) {
  storage::store_options opts;
  opts.url = "redis://x";
  auto s = storage::open_store(opts, std::make_shared<system_clock>());
  ASSERT_FALSE(s);
  EXPECT_TRUE(is(s.error(), errc::bad_config));
  opts.url = "sqlite:";
  EXPECT_TRUE(
      is(storage::open_store(opts, std::make_shared<system_clock>()).error(), errc::bad_config));
}

}  // namespace ab::testing
