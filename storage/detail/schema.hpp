#pragma once

#include <string>
#include <vector>

#include <caf/error.hpp>

#include "core/clock.hpp"
#include "storage/detail/sql.hpp"

namespace ab::storage::detail {

/// Rows of `park_locks`: the event keys of park and wake hash onto this many lock rows.
inline constexpr int park_lock_slots = 1024;

/// The newest schema version this binary knows.
int latest_schema_version();

/// One migration as the rule checks see it (tests/storage/migration_rule_test.cpp).
struct migration_summary {
  int version = 0;
  /// 0: expand-only; else the oldest schema version whose code runs once it is applied.
  int compatible_since = 0;
  /// Tables it creates (if absent), and its statements as written (with placeholders).
  std::vector<std::string> tables;
  std::vector<std::string> statements;
};

/// Every migration of this binary, oldest first.
std::vector<migration_summary> migration_summaries();

/// Applies every migration the database lacks up to `known_max` (0: all this binary holds),
/// under the pool's migration lock, and returns the database's schema version. Idempotent.
///
/// A database that a newer release migrated past `known_max` is left as it is and used, unless
/// one of those newer migrations contracted it (its `compatible_since` is above `known_max`):
/// that is refused with `schema_too_new`. Throws db_error.
caf::expected<int> migrate(connection_pool& pool, time_ms now, int known_max = 0);

}  // namespace ab::storage::detail
