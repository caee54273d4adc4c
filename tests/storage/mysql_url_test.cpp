#include <gtest/gtest.h>

#include "core/error.hpp"
#include "storage/detail/pools.hpp"
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

namespace ab::testing {

TEST(MysqlUrl, TakesTheGaleraSyncWaitOption) {
  auto t = storage::parse_mysql_url("mysql://ab:pw@h:3307/autobuild?wsrep_sync_wait=3");
  ASSERT_TRUE(t) << message_of(t.error());
  EXPECT_EQ(t->database, "autobuild");
  EXPECT_EQ(t->wsrep_sync_wait, 3);
  EXPECT_EQ(storage::parse_mysql_url("mysql://ab:pw@h/autobuild")->wsrep_sync_wait, -1);
  for (const char* bad :
       {"mysql://a:pw@h/d?wsrep_sync_wait=16", "mysql://a:pw@h/d?wsrep_sync_wait=",
        "mysql://a:pw@h/d?wsrep_sync_wait=-1", "mysql://a:pw@h/d?pool=3"})
    EXPECT_FALSE(storage::parse_mysql_url(bad)) << bad;
}

TEST(MysqlErrors, WhatAFailoverThrowsRunsTheTransactionAgainOnANewConnection) {
  using storage::detail::classify_mysql_error;
  using kind = storage::detail::db_error::kind;
  EXPECT_EQ(classify_mysql_error(1213), kind::transient);  // Galera certification failure
  EXPECT_EQ(classify_mysql_error(1205), kind::transient);
  EXPECT_EQ(classify_mysql_error(1047), kind::connection);  // WSREP not ready
  for (int lost : {2006, 2013, 2055, 1927, 1053, 4031})
    EXPECT_EQ(classify_mysql_error(lost), kind::connection) << lost;
  EXPECT_EQ(classify_mysql_error(1062), kind::duplicate);
  EXPECT_EQ(classify_mysql_error(1064), kind::other);  // a syntax error stays an error
}

}  // namespace ab::testing
