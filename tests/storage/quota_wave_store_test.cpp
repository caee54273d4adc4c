// The quota and wave roles of the store: charges counted in the database over the last hour,
// wave plans with their progress, and the one wave lease of a site.

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {
namespace {

TEST_P(StoreConformance, QuotaChargesCountOverTheLastHourAndRefuseBeyondTheLimit) {
  auto a = db().charge_quota({"ops", "reimage", 30, 50});
  ASSERT_TRUE(a) << message_of(a.error());
  EXPECT_TRUE(a->charged);
  EXPECT_EQ(a->used, 0);
  clock_->advance(10 * 60 * 1000);
  auto b = db().charge_quota({"ops", "wipe", 20, 50});
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->charged);
  EXPECT_EQ(b->used, 30);
  // Full: refused, nothing written, and it says when the first charge expires.
  auto c = db().charge_quota({"ops", "reimage", 1, 50});
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->charged);
  EXPECT_EQ(c->used, 50);
  EXPECT_EQ(c->fits_at, clock_->now() - 10 * 60 * 1000 + storage::quota_window_ms);
  EXPECT_EQ(*db().quota_used("ops"), 50);
  // Another subject has its own quota.
  EXPECT_TRUE(db().charge_quota({"other", "reimage", 50, 50})->charged);
  // A refund gives back what a call did not use.
  ASSERT_FALSE(db().settle_quota(b->id, 5));
  EXPECT_EQ(*db().quota_used("ops"), 35);
  // An hour after the first charge, it no longer counts.
  clock_->advance(50 * 60 * 1000 + 1);
  EXPECT_EQ(*db().quota_used("ops"), 5);
  EXPECT_TRUE(db().charge_quota({"ops", "reimage", 45, 50})->charged);
}

TEST_P(StoreConformance, QuotaChargesHoldAcrossStoresOnOneDatabase) {
  auto other = store_->reopen();
  ASSERT_TRUE(other) << message_of(other.error());
  EXPECT_TRUE(db().charge_quota({"ops", "reimage", 40, 50})->charged);
  auto r = (*other)->charge_quota({"ops", "reimage", 20, 50});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->charged);
  EXPECT_EQ(r->used, 40);
}

storage::wave_record a_wave() {
  storage::wave_record w;
  w.action = "reimage";
  w.created_by = "ops";
  w.max_unavailable = 1;
  w.pause_ms = 1000;
  w.failure_threshold = 10;
  w.waves_total = 2;
  w.hosts = {{"h1", 1, "r1", 0, "pending", ""},
             {"h2", 1, "r2", 0, "pending", ""},
             {"h3", 2, "r1", 0, "pending", ""}};
  return w;
}

TEST_P(StoreConformance, WavesKeepTheirPlanAndProgress) {
  auto id = db().create_wave(a_wave());
  ASSERT_TRUE(id) << message_of(id.error());
  auto w = db().wave(*id);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->state, "running");
  ASSERT_EQ(w->hosts.size(), 3u);
  EXPECT_EQ(w->hosts[2].host, "h3");
  EXPECT_EQ(w->hosts[2].wave_no, 2);
  EXPECT_EQ(w->hosts[0].state, "pending");
  w->current_wave = 1;
  auto h1 = w->hosts[0];
  h1.state = "running";
  h1.request = 77;
  ASSERT_TRUE(*db().update_wave(*w, {h1}));
  auto again = db().wave(*id);
  EXPECT_EQ(again->current_wave, 1);
  EXPECT_EQ(again->hosts[0].request, 77);
  EXPECT_EQ(again->hosts[0].state, "running");
  EXPECT_EQ(db().waves({"running", 0, 10})->size(), 1u);
  // A stop is never undone by a later update.
  EXPECT_TRUE(*db().stop_wave(*id, "operator"));
  w->current_wave = 2;
  EXPECT_FALSE(*db().update_wave(*w, {}));
  EXPECT_EQ(db().wave(*id)->current_wave, 1);
  EXPECT_EQ(db().wave(*id)->state, "stopped");
  EXPECT_TRUE(db().waves({"running", 0, 10})->empty());
  EXPECT_TRUE(is(db().wave(*id + 1000).error(), errc::not_found));
}

TEST_P(StoreConformance, OneNodeHoldsTheWaveLeaseUntilItExpires) {
  EXPECT_TRUE(*db().take_wave_lease("n1", 30000));
  EXPECT_TRUE(*db().take_wave_lease("n1", 30000));
  EXPECT_FALSE(*db().take_wave_lease("n2", 30000));
  clock_->advance(30001);
  EXPECT_TRUE(*db().take_wave_lease("n2", 30000));
  EXPECT_FALSE(*db().take_wave_lease("n1", 30000));
}

}  // namespace
}  // namespace ab::testing
