// The rule for schema migrations (docs/database.md#schema-migrations-and-rolling-upgrades),
// checked on the migration list itself: from version 14 on a migration only expands the
// schema, unless it is marked as a contraction with the schema version it stays compatible
// with.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "storage/detail/schema.hpp"

namespace ab::testing {

namespace {

using storage::detail::migration_summary;

constexpr int first_ruled_version = 14;

/// The words of `sql`, upper-cased (letters, digits and `_`).
std::vector<std::string> words(const std::string& sql) {
  std::vector<std::string> out;
  std::string w;
  for (char c : sql + " ") {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      w += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (!w.empty()) {
      out.push_back(w);
      w.clear();
    }
  }
  return out;
}

bool has(const std::vector<std::string>& ws, const std::string& w) {
  return std::find(ws.begin(), ws.end(), w) != ws.end();
}

/// What in `m` an older release running on the schema could break on: a drop, a rename, a
/// changed column, data taken away, a constraint that refuses what it writes, a column its
/// inserts do not fill.
std::vector<std::string> contractions(const migration_summary& m) {
  std::vector<std::string> out;
  for (const auto& stmt : m.statements) {
    auto ws = words(stmt);
    for (const char* w : {"DROP", "RENAME", "MODIFY", "CHANGE", "TRUNCATE", "DELETE"})
      if (has(ws, w)) out.push_back(std::string{w} + " in: " + stmt);
    if (has(ws, "UNIQUE")) out.push_back("a UNIQUE constraint on an existing table in: " + stmt);
    if (has(ws, "ADD") && has(ws, "COLUMN") && has(ws, "NOT") && has(ws, "NULL") &&
        !has(ws, "DEFAULT"))
      out.push_back("a NOT NULL column without a DEFAULT in: " + stmt);
  }
  return out;
}

/// Every breach of the rule in `list`, for the migrations from `first_ruled_version` on.
std::vector<std::string> violations(const std::vector<migration_summary>& list) {
  std::vector<std::string> out;
  int previous = 0, previous_since = 0;
  for (const auto& m : list) {
    auto v = std::to_string(m.version);
    if (m.version != previous + 1)
      out.push_back("version " + v + " does not follow " + std::to_string(previous));
    previous = m.version;
    if (m.version < first_ruled_version) continue;
    if (m.compatible_since == 0) {
      for (const auto& c : contractions(m))
        out.push_back("version " + v + " contracts without a compatible_since marker: " + c);
      continue;
    }
    // A contraction ships in a release after the code that stopped needing what it removes.
    if (m.compatible_since >= m.version)
      out.push_back("version " + v + " is compatible_since " + std::to_string(m.compatible_since) +
                    ", not an earlier version");
    if (m.compatible_since < previous_since)
      out.push_back("version " + v + " lowers compatible_since below " +
                    std::to_string(previous_since));
    previous_since = m.compatible_since;
  }
  return out;
}

}  // namespace

TEST(MigrationRule, NoMigrationFromVersion14OnDropsOrRenamesWithoutAContractMarker) {
  auto list = storage::detail::migration_summaries();
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list.back().version, storage::detail::latest_schema_version());
  auto found = violations(list);
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
}

TEST(MigrationRule, TheMigrationsBeforeTheRuleThatContractedAreKnown) {
  // Versions 4 (a unique index on hosts) and 5 (indexes replaced) came before rolling
  // upgrades: a release before 5 must not run beside one after it.
  std::set<int> contracted;
  for (const auto& m : storage::detail::migration_summaries())
    if (m.version < first_ruled_version && !contractions(m).empty()) contracted.insert(m.version);
  EXPECT_EQ(contracted, (std::set<int>{4, 5}));
}

TEST(MigrationRule, TheCheckFindsEachKindOfContraction) {
  auto base = storage::detail::migration_summaries();
  auto next = base.back().version + 1;
  for (const std::string stmt : {
           "ALTER TABLE jobs DROP COLUMN event",
           "ALTER TABLE hosts RENAME COLUMN rack TO rack_name",
           "ALTER TABLE hosts MODIFY COLUMN rack VARCHAR(16) NOT NULL DEFAULT ''",
           "ALTER TABLE hosts CHANGE rack rack_name VARCHAR(64)",
           "DROP TABLE IF EXISTS pauses",
           "DELETE FROM pending_events",
           "CREATE UNIQUE INDEX IF NOT EXISTS hosts_rack ON hosts (rack)",
           "ALTER TABLE hosts ADD COLUMN {if_not_exists}owner VARCHAR(64) NOT NULL",
       }) {
    auto list = base;
    list.push_back({next, 0, {}, {stmt}});
    EXPECT_EQ(violations(list).size(), 1u) << stmt;
    // Marked as a contraction compatible with an earlier version, it passes.
    list.back().compatible_since = next - 1;
    EXPECT_TRUE(violations(list).empty()) << stmt;
    // Compatible only with itself: not shipped after the code that stopped needing it.
    list.back().compatible_since = next;
    EXPECT_EQ(violations(list).size(), 1u) << stmt;
  }
  // What expands is allowed unmarked.
  auto list = base;
  list.push_back({next,
                  0,
                  {"new_table"},
                  {"ALTER TABLE hosts ADD COLUMN {if_not_exists}owner VARCHAR(64) NOT NULL "
                   "DEFAULT ''",
                   "CREATE INDEX IF NOT EXISTS hosts_owner ON hosts (owner)"}});
  EXPECT_TRUE(violations(list).empty()) << ::testing::PrintToString(violations(list));
  // A gap in the versions is a mistake too.
  list.back().version = next + 1;
  EXPECT_EQ(violations(list).size(), 1u);
}

}  // namespace ab::testing
