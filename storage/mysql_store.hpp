#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "storage/store.hpp"

namespace ab::storage {

/// Where a MySQL/MariaDB store lives, parsed from
/// `mysql://USER:PASS@HOST[:PORT]/DB[?wsrep_sync_wait=N]`.
struct mysql_target {
  std::string user;
  std::string password;
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string database;
  /// On a Galera node, the session's `wsrep_sync_wait` (0..15): every read then waits for the
  /// node to apply what the cluster committed. -1 (the default): one such wait when a
  /// connection opens, none per statement, which suffices while every node of a site writes
  /// through one Galera node (docs/queue.md, "On a Galera cluster").
  int wsrep_sync_wait = -1;
};

/// Parses a `mysql://` URL; the password may be percent-encoded.
caf::expected<mysql_target> parse_mysql_url(const std::string& url);

/// Opens a pooled MySQL/MariaDB store (MariaDB >= 10.6 or MySQL >= 8) and brings its schema up
/// to date. Several nodes may share one database.
caf::expected<std::unique_ptr<store>> open_mysql_store(const mysql_target& target,
                                                       std::size_t pool_size,
                                                       std::shared_ptr<const ab::clock> clk,
                                                       queue_policy policy = {},
                                                       int schema_max = 0);

}  // namespace ab::storage
