#pragma once

// What only tests may do to a store: not part of any role of `store`, so no production code
// can reach it. Both backends implement it; tests/fakes/test_store.hpp hands it out.

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ab::storage::detail {

/// Test-only operations of a store, for setting up a state or checking one that the
/// production roles never need.
class test_hooks {
 public:
  virtual ~test_hooks() = default;

  /// Schema version the database is at after `open`.
  virtual int schema_version() = 0;

  /// Moves a host to `to` if it is in `from` (empty `from`: any state), bypassing the
  /// lifecycle that requests drive.
  virtual caf::error set_host_state(const std::string& name, const std::string& from,
                                    const std::string& to) = 0;

  /// Makes the job parked on `event_key` claimable again, carrying `payload`, or keeps the
  /// event for a job that parks later; false if no job woke. Production wakes a job only by
  /// redeeming its callback token (`job_queue::redeem_callback`).
  virtual caf::expected<bool> wake(const std::string& event_key, const std::string& payload) = 0;
};

}  // namespace ab::storage::detail
