#include "bmc/guard.hpp"

#include <algorithm>

namespace ab::bmc {

guarded_driver::guarded_driver(std::shared_ptr<driver> inner, guard_options options,
                               const clock& clock)
    : inner_(std::move(inner)),
      options_(options),
      clock_(clock),
      metrics_(inner_->name()),
      power_{this, inner_->power_interface()},
      boot_{this, inner_->boot_interface()},
      media_{this, inner_->media_interface()},
      inventory_{this, inner_->inventory_interface()},
      erase_{this, inner_->erase_interface()} {
  // The breaker series exist from the start: no breaker has opened yet is a 0, not a gap.
  metrics::bmc_metrics::breakers_open();
  metrics::bmc_metrics::breaker_opened();
}

guarded_driver::~guarded_driver() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [endpoint, bmc] : bmcs_)
    if (bmc.counted_open) metrics::bmc_metrics::breakers_open().Decrement();
}

caf::error guarded_driver::enter(const target& t) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto& bmc = bmcs_[t.endpoint];
  auto now = clock_.monotonic();
  if (bmc.open_until > now || bmc.probing)
    return make_error(errc::unavailable, "BMC " + t.endpoint + " failed " +
                                             std::to_string(bmc.failures) +
                                             " times in a row; not calling it for now");
  // After the cool-down, one call probes the BMC while the breaker stays closed to others.
  if (bmc.open_until != mono_time{}) bmc.probing = true;
  bool turn = changed_.wait_for(lock, t.timeout,
                                [&] { return !bmc.busy && in_flight_ < options_.max_in_flight; });
  if (!turn) {
    bmc.probing = false;
    return make_error(errc::unavailable, "BMC " + t.endpoint +
                                             " is busy with another call, or too many BMC calls "
                                             "are in flight; try again later");
  }
  bmc.busy = true;
  ++in_flight_;
  return {};
}

void guarded_driver::leave(const target& t, const caf::error& outcome) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& bmc = bmcs_[t.endpoint];
    bmc.busy = false;
    bmc.probing = false;
    --in_flight_;
    if (is(outcome, errc::unavailable)) {
      if (++bmc.failures >= options_.failures_to_open) {
        bmc.open_until = clock_.monotonic() + options_.open_for;
        // A failed probe opens it again: counted once until a success closes it.
        if (!bmc.counted_open) {
          bmc.counted_open = true;
          metrics::bmc_metrics::breakers_open().Increment();
          metrics::bmc_metrics::breaker_opened().Increment();
        }
      }
    } else {
      if (bmc.counted_open) metrics::bmc_metrics::breakers_open().Decrement();
      bmc = bmc_state{};
    }
  }
  changed_.notify_all();
}

time_ms guarded_driver::available_at(const target& t) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = bmcs_.find(t.endpoint);
  if (it == bmcs_.end()) return 0;
  auto now = clock_.monotonic();
  // The breaker counts its cool-down on the monotonic clock; the answer is a wall-clock time.
  if (it->second.open_until > now)
    return clock_.now() +
           std::chrono::ceil<std::chrono::milliseconds>(it->second.open_until - now).count();
  // Half-open: one probe is under way; its outcome decides within one BMC exchange.
  if (it->second.probing) return clock_.now() + std::min<time_ms>(t.timeout.count(), 1000);
  return 0;
}

caf::expected<power_state> guarded_driver::guarded_power::power(const target& t) {
  return guard->guarded(t, metrics::bmc_operation::power, [&] { return inner->power(t); });
}

caf::error guarded_driver::guarded_power::set_power(const target& t, power_action a) {
  return guard->guarded(t, metrics::bmc_operation::set_power,
                        [&] { return inner->set_power(t, a); });
}

caf::error guarded_driver::guarded_boot::set_boot(const target& t, boot_device d, bool once) {
  return guard->guarded(t, metrics::bmc_operation::set_boot,
                        [&] { return inner->set_boot(t, d, once); });
}

caf::error guarded_driver::guarded_media::set_media(const target& t, const std::string& image_url) {
  return guard->guarded(t, metrics::bmc_operation::set_media,
                        [&] { return inner->set_media(t, image_url); });
}

caf::expected<inventory> guarded_driver::guarded_inventory::read_inventory(const target& t) {
  return guard->guarded(t, metrics::bmc_operation::read_inventory,
                        [&] { return inner->read_inventory(t); });
}

caf::expected<std::vector<erase_result>> guarded_driver::guarded_erase::erase_disks(
    const target& t) {
  return guard->guarded(t, metrics::bmc_operation::erase_disks,
                        [&] { return inner->erase_disks(t); });
}

}  // namespace ab::bmc
