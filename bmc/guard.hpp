#pragma once

// Protection around any driver: one call at a time per BMC, a cap on calls in flight, and a
// circuit breaker per BMC that fails fast while a BMC keeps being unreachable.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bmc/driver.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "metrics/bmc_metrics.hpp"

namespace ab::bmc {

/// Limits of a `guarded_driver`.
struct guard_options {
  /// Calls in flight at once, across every BMC.
  std::size_t max_in_flight = 64;
  /// Consecutive `unavailable` failures of one BMC that open its breaker.
  int failures_to_open = 3;
  /// How long an open breaker fails calls at once before letting one try again.
  std::chrono::milliseconds open_for{60000};
};

/// A driver that serializes calls per BMC endpoint, caps the calls in flight and trips a
/// circuit breaker per BMC; waits for a turn at most the target's timeout. It offers a guarded
/// interface for each capability interface the inner driver offers, and no other: a call
/// through any of them takes the same turn of its BMC, slot and breaker.
///
/// Thread-safe. Only `errc::unavailable` counts as a BMC failure: bad input or credentials
/// do not say the BMC is down.
class guarded_driver : public driver {
 public:
  /// Wraps `inner`; `clock` times the breakers and must outlive this driver.
  guarded_driver(std::shared_ptr<driver> inner, guard_options options, const clock& clock);
  /// Takes its open breakers out of `ab_bmc_breakers_open`.
  ~guarded_driver() override;

  /// The inner driver's name.
  std::string name() const override { return inner_->name(); }

  /// The end of the BMC's open period while its breaker is open; a moment from now while
  /// another call probes a half-open breaker; 0 otherwise.
  time_ms available_at(const target& t) override;

  /// The guarded interface of each capability the inner driver has; null where it has none.
  power_control* power_interface() override { return power_.inner ? &power_ : nullptr; }
  boot_control* boot_interface() override { return boot_.inner ? &boot_ : nullptr; }
  media_control* media_interface() override { return media_.inner ? &media_ : nullptr; }
  inventory_reader* inventory_interface() override {
    return inventory_.inner ? &inventory_ : nullptr;
  }
  disk_eraser* erase_interface() override { return erase_.inner ? &erase_ : nullptr; }

 private:
  struct bmc_state {
    bool busy = false;
    int failures = 0;
    /// On the monotonic clock; the epoch while the breaker never opened.
    mono_time open_until{};
    bool probing = false;
    /// Counted in `ab_bmc_breakers_open` (opened, not closed by a success since).
    bool counted_open = false;
  };

  /// The guarded interfaces: each forwards to the inner driver's inside `guarded`.
  struct guarded_power final : power_control {
    guarded_power(guarded_driver* g, power_control* i) : guard(g), inner(i) {}
    guarded_driver* guard;
    power_control* inner;
    caf::expected<power_state> power(const target& t) override;
    caf::error set_power(const target& t, power_action a) override;
  };
  struct guarded_boot final : boot_control {
    guarded_boot(guarded_driver* g, boot_control* i) : guard(g), inner(i) {}
    guarded_driver* guard;
    boot_control* inner;
    caf::error set_boot(const target& t, boot_device d, bool once) override;
  };
  struct guarded_media final : media_control {
    guarded_media(guarded_driver* g, media_control* i) : guard(g), inner(i) {}
    guarded_driver* guard;
    media_control* inner;
    caf::error set_media(const target& t, const std::string& image_url) override;
  };
  struct guarded_inventory final : inventory_reader {
    guarded_inventory(guarded_driver* g, inventory_reader* i) : guard(g), inner(i) {}
    guarded_driver* guard;
    inventory_reader* inner;
    caf::expected<inventory> read_inventory(const target& t) override;
  };
  struct guarded_erase final : disk_eraser {
    guarded_erase(guarded_driver* g, disk_eraser* i) : guard(g), inner(i) {}
    guarded_driver* guard;
    disk_eraser* inner;
    caf::expected<std::vector<erase_result>> erase_disks(const target& t) override;
  };

  /// Waits for the BMC's turn and a slot; an error when the breaker is open or time runs out.
  caf::error enter(const target& t);
  /// Releases the turn and the slot and records the outcome.
  void leave(const target& t, const caf::error& outcome);

  template <class F>
  auto guarded(const target& t, metrics::bmc_operation op, F&& f) -> decltype(f()) {
    if (auto err = enter(t)) {
      metrics_.call(op, metrics::bmc_outcome::refused, 0);
      return err;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto result = f();
    auto outcome = outcome_of(result);
    metrics_.call(op,
                  !outcome                         ? metrics::bmc_outcome::ok
                  : is(outcome, errc::unavailable) ? metrics::bmc_outcome::unavailable
                                                   : metrics::bmc_outcome::failed,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    leave(t, outcome);
    return result;
  }

  static caf::error outcome_of(const caf::error& e) { return e; }
  template <class T>
  static caf::error outcome_of(const caf::expected<T>& e) {
    return e ? caf::error{} : e.error();
  }

  std::shared_ptr<driver> inner_;
  guard_options options_;
  const clock& clock_;
  metrics::bmc_metrics metrics_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
  std::map<std::string, bmc_state> bmcs_;
  guarded_power power_;
  guarded_boot boot_;
  guarded_media media_;
  guarded_inventory inventory_;
  guarded_erase erase_;
};

}  // namespace ab::bmc
