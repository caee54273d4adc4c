#pragma once

// The safety role of the store: holds on hosts and pauses of a site, a cluster or an action.
// Both are state in the site database, so they outlive every node process, and the queue's
// claim honours them (storage/detail/sql_queue.cpp): a held host's jobs and paused work are
// not claimed; what runs finishes.

#include <cstddef>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::storage {

/// What a pause stops: every job of a site, of the actions a cluster serves (claims by that
/// cluster's nodes), or of one action.
inline constexpr const char* pause_scopes[] = {"site", "cluster", "action"};

/// True for `site`, `cluster` and `action`.
bool is_pause_scope(const std::string& scope);

/// A pause in force: nothing of its scope and target is claimed until it is resumed.
struct pause {
  /// `site`, `cluster` or `action`.
  std::string scope;
  /// The site, cluster or action name.
  std::string target;
  std::string reason;
  std::string owner;
  time_ms created_at = 0;
};

/// Filters and cursor of a hold listing.
struct hold_filter {
  /// Only holds of hosts whose name sorts after this one (the previous page's last host).
  std::string after;
  std::size_t limit = 100;
  /// Only holds of hosts of one of these sites; empty: every site.
  std::vector<std::string> sites;
};

/// Who lifts a hold or resumes a pause, from where and why, for the audit trail.
struct safety_actor {
  std::string who;
  /// A client address.
  std::string source;
  /// Free text kept in the audit entry (may be empty).
  std::string note;
};

/// The most bytes of a hold's or a pause's reason, and of a pause target.
inline constexpr std::size_t safety_reason_limit = 1024;
inline constexpr std::size_t safety_target_limit = 255;

/// Holds and pauses. Placing and lifting either appends an audit entry (`hold.write` with
/// target `host:NAME`, `pause.write` with target `SCOPE:TARGET`) in the same transaction.
/// Every call is one transaction; none throws.
class safety_store {
 public:
  virtual ~safety_store() = default;

  /// The holds of those of `hosts` that are held, sorted by host.
  virtual caf::expected<std::vector<hold>> holds_of(const std::vector<std::string>& hosts) = 0;

  /// One page of the holds in force, sorted by host.
  virtual caf::expected<std::vector<hold>> holds(const hold_filter& filter) = 0;

  /// Puts `h.host` on hold (its `site` and `created_at` are the store's): `not_found` for an
  /// unknown host, `conflict` when it is held already (naming the owner and reason),
  /// `invalid_argument` for an empty or overlong reason or owner. Returns the hold.
  virtual caf::expected<hold> place_hold(const hold& h, const std::string& source) = 0;

  /// Lifts the hold of `host`; `not_found` when it is not held. Returns the hold lifted.
  virtual caf::expected<hold> lift_hold(const std::string& host, const safety_actor& by) = 0;

  /// Every pause in force, sorted by scope and target.
  virtual caf::expected<std::vector<pause>> active_pauses() = 0;

  /// Pauses `p.scope`/`p.target`: `conflict` when it is paused already, `invalid_argument`
  /// for an unknown scope or an empty or overlong target, reason or owner. Returns the pause.
  virtual caf::expected<pause> place_pause(const pause& p, const std::string& source) = 0;

  /// Resumes `scope`/`target`; `not_found` when it is not paused. Returns the pause lifted.
  virtual caf::expected<pause> resume(const std::string& scope, const std::string& target,
                                      const safety_actor& by) = 0;
};

}  // namespace ab::storage
