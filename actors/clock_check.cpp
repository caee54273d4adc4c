#include "actors/clock_check.hpp"

#include <cstdlib>

#include <spdlog/spdlog.h>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::actors {

clock_check::clock_check(std::function<caf::expected<time_ms>()> database_time,
                         std::shared_ptr<const ab::clock> clk, time_ms max_skew_ms)
    : database_time_(std::move(database_time)), clock_(std::move(clk)), max_skew_ms_(max_skew_ms) {}

caf::error clock_check::check() {
  auto before = clock_->now();
  auto db = database_time_();
  auto after = clock_->now();
  if (!db) return db.error();
  // The database read its clock somewhere within the round trip: compare with the middle and
  // give the round trip's half the benefit of the doubt.
  auto skew = (before + after) / 2 - *db;
  auto doubt = (after - before) / 2;
  skew_ = skew;
  bool ok = std::llabs(skew) - doubt <= max_skew_ms_;
  in_bound_ = ok;
  if (ok) return caf::none;
  ++refusals_;
  return make_error(errc::conflict, "this node's clock is " + std::to_string(skew) +
                                        " ms off the database's, more than the " +
                                        std::to_string(max_skew_ms_) + " ms allowed");
}

namespace {

struct clock_check_state {
  static inline const char* name = "clock_check";
};

clock_check_actor::behavior_type checker(clock_check_actor::stateful_pointer<clock_check_state>,
                                         const std::shared_ptr<clock_check>& check) {
  auto log = spdlog::get("actors");
  if (!log) log = spdlog::default_logger()->clone("actors");
  return {
      [check, log](check_atom) {
        bool was = check->in_bound();
        auto err = check->check();
        // Leases and deadlines are the database's time: a node whose clock is off must neither
        // keep leases (renewing) nor take jobs (its pools see the same verdict).
        if (!check->in_bound())
          log->error("not renewing leases nor claiming: {}",
                     err ? message_of(err) : std::string{"the clock is off the database's"});
        else if (!was)
          log->warn("clock back within {} ms of the database's; claiming again",
                    check->max_skew_ms());
        return check->in_bound();
      },
  };
}

}  // namespace

clock_check_actor spawn_clock_check(caf::actor_system& sys, std::shared_ptr<clock_check> check) {
  return sys.spawn<caf::detached>(checker, std::move(check));
}

}  // namespace ab::actors
