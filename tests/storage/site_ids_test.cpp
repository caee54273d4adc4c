// Conformance: request ids unique across sites. A database bound to a site id hands out
// request ids from that site's block, keeps the ids it gave before, never gives an id twice,
// and refuses another site id.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

constexpr std::int64_t block = storage::site_id_block;

}  // namespace

TEST_P(StoreConformance, ABoundDatabaseHandsOutRequestIdsFromItsSiteBlock) {
  ASSERT_FALSE(db().bind_site(7));
  auto id = submit_one(spec("h1"));
  EXPECT_EQ(id, 7 * block + 1);
  EXPECT_EQ(submit_one(spec("h2")), 7 * block + 2);
  auto jobs = claim("t", 1);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].request, id);
  EXPECT_EQ(jobs[0].id, id * storage::max_chain_length);
}

TEST_P(StoreConformance, SiteZeroKeepsTheIdsAsTheyWere) {
  ASSERT_FALSE(db().bind_site(0));
  EXPECT_EQ(submit_one(spec("h1")), 1);
  ASSERT_FALSE(db().bind_site(0));
  EXPECT_EQ(submit_one(spec("h2")), 2);
}

TEST_P(StoreConformance, AnExistingDatabaseKeepsItsIdsAndNewOnesGoIntoTheBlock) {
  auto old_id = submit_one(spec("h1"));
  ASSERT_EQ(old_id, 1);
  ASSERT_FALSE(db().bind_site(3));
  EXPECT_EQ(request(old_id).host, "h1");
  EXPECT_EQ(submit_one(spec("h2")), 3 * block + 1);
}

TEST_P(StoreConformance, ADatabaseRefusesAnotherSiteIdAndKeepsItsOwn) {
  ASSERT_FALSE(db().bind_site(3));
  auto first = submit_one(spec("h1"));
  auto other = store_->reopen(policy());
  ASSERT_TRUE(other) << message_of(other.error());
  auto err = (*other)->bind_site(4);
  ASSERT_TRUE(is(err, errc::bad_config));
  EXPECT_NE(message_of(err).find("site_id 3"), std::string::npos) << message_of(err);
  ASSERT_FALSE((*other)->bind_site(3));
  auto out = (*other)->submit({spec("h2")});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->at(0).id, first + 1);
}

TEST_P(StoreConformance, BindingAgainNeverGivesAnIdTwice) {
  ASSERT_FALSE(db().bind_site(2));
  auto id = submit_one(spec("h1"));
  ASSERT_EQ(id, 2 * block + 1);
  // The block's only request is gone (as if pruned): the next id still moves on.
  store_->raw_sql("DELETE FROM jobs");
  store_->raw_sql("DELETE FROM requests");
  auto again = store_->reopen(policy());
  ASSERT_TRUE(again) << message_of(again.error());
  ASSERT_FALSE((*again)->bind_site(2));
  auto out = (*again)->submit({spec("h2")});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->at(0).id, 2 * block + 2);
}

TEST_P(StoreConformance, TheLastSiteBlockFitsJobIdsInInt64) {
  ASSERT_FALSE(db().bind_site(storage::max_site_id));
  auto id = submit_one(spec("h1", {"t", "u"}));
  EXPECT_EQ(id, storage::max_site_id * block + 1);
  auto jobs = claim("t", 1);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, id * storage::max_chain_length);
  EXPECT_GT(jobs[0].id, 0);
}

TEST_P(StoreConformance, ASiteIdOutOfRangeIsRefused) {
  EXPECT_TRUE(is(db().bind_site(-1), errc::bad_config));
  EXPECT_TRUE(is(db().bind_site(storage::max_site_id + 1), errc::bad_config));
  // Nothing was bound: a valid id still binds.
  EXPECT_FALSE(db().bind_site(5));
}

}  // namespace ab::testing
