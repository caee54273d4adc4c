#include "actors/clock_check.hpp"

#include <cstdlib>

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

}  // namespace ab::actors
