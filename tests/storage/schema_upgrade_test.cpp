// Releases side by side on one site database
// (docs/database.md#schema-migrations-and-rolling-upgrades): a newer release's expand-only
// migration leaves an older release running, and a contracting one stops it at start.

#include <string>

#include "storage/detail/schema.hpp"
#include "storage/detail/test_hooks.hpp"
#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

int latest() {
  return storage::detail::latest_schema_version();
}

}  // namespace

TEST_P(StoreConformance, ANewerReleasesExpandOnlyMigrationLeavesThisReleaseRunning) {
  auto id = submit_one(spec("h1"));
  // What a newer release's expand-only migration does: a column with a default, and its row.
  store_->raw_sql("ALTER TABLE requests ADD COLUMN newer_release_note INT NOT NULL DEFAULT 0");
  store_->raw_sql("INSERT INTO schema_migrations (version, applied_at, compatible_since) VALUES (" +
                  std::to_string(latest() + 1) + ", 0, 0)");
  auto again = store_->reopen();
  ASSERT_TRUE(again) << message_of(again.error());
  EXPECT_EQ(test_hooks_of(**again).schema_version(), latest() + 1);
  auto r = (*again)->request(id);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->host, "h1");
  auto more = (*again)->submit({spec("h2")});
  ASSERT_TRUE(more) << message_of(more.error());
  EXPECT_EQ(more->at(0).what, storage::submit_outcome::status::created);
}

TEST_P(StoreConformance, AContractingMigrationThisReleaseStillRunsOnLeavesItRunning) {
  // Contracted, but only past what releases older than this one used.
  store_->raw_sql("INSERT INTO schema_migrations (version, applied_at, compatible_since) VALUES (" +
                  std::to_string(latest() + 2) + ", 0, " + std::to_string(latest()) + ")");
  auto again = store_->reopen();
  ASSERT_TRUE(again) << message_of(again.error());
  // One release older than this one is refused on it.
  auto older = store_->reopen({}, latest() - 1);
  ASSERT_FALSE(older);
  EXPECT_TRUE(is(older.error(), errc::schema_too_new)) << message_of(older.error());
}

TEST_P(StoreConformance, AnOlderReleaseRunsOnTheSchemaThisReleaseMigrated) {
  auto id = submit_one(spec("h1"));
  auto older = store_->reopen({}, latest() - 1);
  ASSERT_TRUE(older) << message_of(older.error());
  EXPECT_EQ(test_hooks_of(**older).schema_version(), latest());
  auto r = (*older)->request(id);
  ASSERT_TRUE(r) << message_of(r.error());
}

}  // namespace ab::testing
