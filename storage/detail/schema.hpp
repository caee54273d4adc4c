#pragma once

#include <caf/error.hpp>

#include "core/clock.hpp"
#include "storage/detail/sql.hpp"

namespace ab::storage::detail {

/// The newest schema version this binary knows.
int latest_schema_version();

/// Applies every migration the database lacks, under the pool's migration lock. Idempotent;
/// refuses (`schema_too_new`) a database that is newer than this binary. Throws db_error.
caf::expected<int> migrate(connection_pool& pool, time_ms now);

}  // namespace ab::storage::detail
