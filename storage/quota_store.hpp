#pragma once

// The quotas' role of the store: what each caller spent of its hourly quota of destructive
// actions, counted in the site database so that it holds across the site's nodes and restarts.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"

namespace ab::storage {

/// The window an hourly quota counts over.
inline constexpr time_ms quota_window_ms = 60 * 60 * 1000;

/// One charge against a caller's quota.
struct quota_charge {
  /// Who pays: an account or directory login.
  std::string subject;
  std::string action;
  /// Hosts the call acts on.
  std::int64_t hosts = 0;
  /// The most hosts `subject` may act on within `quota_window_ms`, this charge included.
  std::int64_t limit = 0;
};

/// What a charge did.
struct quota_result {
  /// True if the charge was recorded (within the limit); false: nothing was written.
  bool charged = false;
  /// Hosts charged to the subject within the window before this charge.
  std::int64_t used = 0;
  /// The charge's id (for `settle_quota`); 0 when not charged.
  std::int64_t id = 0;
  /// When not charged: the earliest time at which enough of the window's charges expire for
  /// this one to fit (0 if it never fits: `hosts` > `limit`).
  time_ms fits_at = 0;
};

/// Hourly quotas of destructive actions. A charge is checked and recorded in one transaction
/// that locks the subject first, so two nodes never both spend the last of a quota. Every call
/// is one transaction; none throws.
class quota_store {
 public:
  virtual ~quota_store() = default;

  /// Charges `c.hosts` to `c.subject` if the hosts it was charged within the last hour plus
  /// these stay within `c.limit`; else records nothing and says when it would fit.
  virtual caf::expected<quota_result> charge_quota(const quota_charge& c) = 0;

  /// Lowers charge `id` to `hosts` (the hosts a call really acted on: some were refused);
  /// 0 removes it.
  virtual caf::error settle_quota(std::int64_t id, std::int64_t hosts) = 0;

  /// Hosts charged to `subject` within the last hour; a read that writes nothing (dry runs).
  virtual caf::expected<std::int64_t> quota_used(const std::string& subject) = 0;
};

}  // namespace ab::storage
