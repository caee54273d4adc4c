#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/audit_store.hpp"
#include "storage/cluster_map_store.hpp"
#include "storage/eta_store.hpp"
#include "storage/host_inventory.hpp"
#include "storage/job_queue.hpp"
#include "storage/node_registry.hpp"
#include "storage/quota_store.hpp"
#include "storage/retention_store.hpp"
#include "storage/safety_store.hpp"
#include "storage/types.hpp"
#include "storage/wave_store.hpp"

namespace ab::storage {

/// The site database, one object in every role: the queue (`job_queue`), the hosts
/// (`host_inventory`), the nodes (`node_registry`), the audit trail (`audit_store`) and the
/// retention of history (`retention_store`), the site's cluster map (`cluster_map_store`), holds
/// and pauses (`safety_store`), the quotas of destructive actions (`quota_store`) and the waves
/// (`wave_store`), what the turnaround estimates read (`eta_store`), plus what concerns the
/// database as a whole. A consumer that needs one role takes that role; the node's wiring opens the
/// `store` and hands each consumer its part. Every call is one transaction; none throws.
/// Implementations: `mysql_store`, `sqlite_store`; both pass tests/storage's conformance suite.
class store : public job_queue,
              public host_inventory,
              public node_registry,
              public audit_store,
              public retention_store,
              public cluster_map_store,
              public safety_store,
              public quota_store,
              public wave_store,
              public eta_store {
 public:
  ~store() override = default;

  /// Which backend this is: `mysql` or `sqlite`.
  virtual std::string backend() const = 0;

  /// Runs a trivial query: can this process reach its database right now?
  virtual caf::error ping() = 0;

  /// Binds the database to `site_id` (0..`max_site_id`): the first call stores it and moves
  /// the next request id into the site's block (`site_id * site_id_block + n`; ids already
  /// given keep their value); later calls check it, and a different id is a `bad_config`
  /// error naming both. A decorator that cannot hold a site id refuses.
  virtual caf::error bind_site(std::int64_t site_id);
};

/// How to reach a store: `sqlite:PATH` or `mysql://USER:PASS@HOST:PORT/DB`.
struct store_options {
  std::string url;
  /// Connections in the pool (MySQL).
  std::size_t pool_size = 8;
  queue_policy policy;
  /// The site id to bind the database to (`store::bind_site`); none: not checked (tools).
  std::optional<std::int64_t> site_id;
  /// The newest schema version to migrate to and run on (`release_info::schema_max`); 0: every
  /// migration this binary holds.
  int schema_max = 0;
};

/// Opens the store `options.url` names and brings its schema up to date.
caf::expected<std::unique_ptr<store>> open_store(const store_options& options,
                                                 std::shared_ptr<const ab::clock> clk);

}  // namespace ab::storage
