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

/// What the store does about a MySQL/MariaDB error code (including Galera's during a
/// failover: 1213 certification failure, 1047 node not ready, 2006/2013/2055 lost connection).
db_error::kind classify_mysql_error(int code);

/// The single SQLite connection to `path` (created if absent), WAL mode, durable commits.
std::unique_ptr<connection_pool> make_sqlite_pool(const std::string& path);

}  // namespace ab::storage::detail
