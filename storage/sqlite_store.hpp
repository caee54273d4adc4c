#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "storage/store.hpp"

namespace ab::storage {

/// Opens (creating if needed) the embedded SQLite store at `path` in WAL mode with durable
/// commits, and brings its schema up to date. One process owns the file.
caf::expected<std::unique_ptr<store>> open_sqlite_store(const std::string& path,
                                                        std::shared_ptr<const ab::clock> clk,
                                                        queue_policy policy = {},
                                                        int schema_max = 0);

}  // namespace ab::storage
