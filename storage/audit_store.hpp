#pragma once

// The audit's role of the store: the append-only trail of who did what.

#include <cstdint>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::storage {

/// The audit trail: entries are appended and listed, never changed (only retention removes
/// old ones, see `retention_store`). Every call is one transaction; none throws.
class audit_store {
 public:
  virtual ~audit_store() = default;

  /// Appends to the audit trail; returns the entry's id.
  virtual caf::expected<std::int64_t> audit(const audit_entry& entry) = 0;

  /// Appends many entries to the audit trail in one transaction.
  virtual caf::error audit(const std::vector<audit_entry>& entries) = 0;

  /// Audit entries matching `filter`, newest first.
  virtual caf::expected<std::vector<audit_entry>> audit_log(const audit_filter& filter) = 0;
};

}  // namespace ab::storage
