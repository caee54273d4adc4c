#pragma once

#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/audit_store.hpp"
#include "storage/cluster_map_store.hpp"
#include "storage/host_inventory.hpp"
#include "storage/job_queue.hpp"
#include "storage/node_registry.hpp"
#include "storage/retention_store.hpp"
#include "storage/types.hpp"

namespace ab::storage {

/// The site database, one object in every role: the queue (`job_queue`), the hosts
/// (`host_inventory`), the nodes (`node_registry`), the audit trail (`audit_store`) and the
/// retention of history (`retention_store`), the site's cluster map (`cluster_map_store`), plus
/// what concerns the database as a whole. A consumer that needs one role takes that role; the
/// node's wiring opens the `store` and hands each consumer its part. Every call is one transaction;
/// none throws. Implementations: `mysql_store`, `sqlite_store`; both pass tests/storage's
/// conformance suite.
class store : public job_queue,
              public host_inventory,
              public node_registry,
              public audit_store,
              public retention_store,
              public cluster_map_store {
 public:
  ~store() override = default;

  /// Which backend this is: `mysql` or `sqlite`.
  virtual std::string backend() const = 0;

  /// Runs a trivial query: can this process reach its database right now?
  virtual caf::error ping() = 0;
};

/// How to reach a store: `sqlite:PATH` or `mysql://USER:PASS@HOST:PORT/DB`.
struct store_options {
  std::string url;
  /// Connections in the pool (MySQL).
  std::size_t pool_size = 8;
  queue_policy policy;
};

/// Opens the store `options.url` names and brings its schema up to date.
caf::expected<std::unique_ptr<store>> open_store(const store_options& options,
                                                 std::shared_ptr<const ab::clock> clk);

}  // namespace ab::storage
