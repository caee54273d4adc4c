#pragma once

#include <caf/error.hpp>

#include "core/clock.hpp"
#include "storage/detail/sql.hpp"

namespace ab::storage::detail {

/// Rows of `park_locks`: the event keys of park and wake hash onto this many lock rows.
inline constexpr int park_lock_slots = 1024;

/// The newest schema version this binary knows.
int latest_schema_version();

/// Applies every migration the database lacks, under the pool's migration lock. Idempotent;
/// refuses (`schema_too_new`) a database that is newer than this binary. Throws db_error.
caf::expected<int> migrate(connection_pool& pool, time_ms now);

}  // namespace ab::storage::detail
