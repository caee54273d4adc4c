#pragma once

// The retention's role of the store: deleting history that is old enough.

#include <cstddef>

#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::storage {

/// Retention of the site database's history, across the queue and the audit trail; the
/// pruner is its one user. None of its calls throws.
class retention_store {
 public:
  virtual ~retention_store() = default;

  /// Deletes, oldest first and at most `limit` of each kind, finished requests that finished
  /// more than `keep.requests_ms` ago (never less than `min_request_retention_ms`) with their
  /// jobs, callback tokens and pending events; pending events that old; and audit entries
  /// older than `keep.audit_ms`. A retention of 0 keeps that kind forever. Active requests are
  /// never touched. Call again while full batches come back.
  virtual caf::expected<prune_result> prune(const retention& keep, std::size_t limit) = 0;
};

}  // namespace ab::storage
