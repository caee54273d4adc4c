#pragma once

// Connection pools of the two backends, for the stores and for tools that measure the raw
// database (the queue benchmark).

#include <memory>
#include <string>

#include "storage/detail/sql.hpp"
#include "storage/mysql_store.hpp"

namespace ab::storage::detail {

/// A pool of up to `size` Connector/C++ connections to `target`; connects lazily.
std::unique_ptr<connection_pool> make_mysql_pool(const mysql_target& target, std::size_t size);

/// The single SQLite connection to `path` (created if absent), WAL mode, durable commits.
std::unique_ptr<connection_pool> make_sqlite_pool(const std::string& path);

}  // namespace ab::storage::detail
