#pragma once

// One clock for leases and deadlines: every node compares its clock with the database's, at
// start and with every lease renewal, and stops claiming and renewing while the two disagree by
// more than a bound (a node minutes off would otherwise steal live leases or keep dead ones).

#include <atomic>
#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "core/clock.hpp"

namespace ab::actors {

/// Whether this node's clock agrees with the database's within `max_skew_ms`. Thread-safe.
class clock_check {
 public:
  /// `database_time` reads the database's clock (`store::database_time`).
  clock_check(std::function<caf::expected<time_ms>()> database_time,
              std::shared_ptr<const ab::clock> clk, time_ms max_skew_ms);

  /// Measures the skew now and records whether it is within the bound. An error when it is
  /// not (`conflict`, naming the skew) or when the database cannot tell its time (then the
  /// last verdict stays).
  caf::error check();

  /// The last verdict: true until a check found the clock beyond the bound.
  bool in_bound() const { return in_bound_.load(); }
  /// The last measured skew, local minus database, in milliseconds.
  time_ms skew_ms() const { return skew_.load(); }
  /// How many checks found the clock beyond the bound (a counter for metrics).
  std::int64_t refusals() const { return refusals_.load(); }
  time_ms max_skew_ms() const { return max_skew_ms_; }

 private:
  std::function<caf::expected<time_ms>()> database_time_;
  std::shared_ptr<const ab::clock> clock_;
  time_ms max_skew_ms_;
  std::atomic<bool> in_bound_{true};
  std::atomic<time_ms> skew_{0};
  std::atomic<std::int64_t> refusals_{0};
};

/// The clock check as a service actor: `check_atom` measures the skew now and answers whether
/// the clock is within the bound (the supervisor asks before every lease renewal).
using clock_check_actor = caf::typed_actor<caf::replies_to<check_atom>::with<bool>>;

/// Spawns the clock check on `check` (detached: it reads the database's clock); it logs each
/// refusal and the clock's return within the bound.
clock_check_actor spawn_clock_check(caf::actor_system& sys, std::shared_ptr<clock_check> check);

}  // namespace ab::actors
