#pragma once

// Resilience around any BMC driver: one operation at a time per BMC, a cap on operations in
// flight across all BMCs, and a circuit breaker per BMC so that a dead BMC fails fast instead
// of tying up workers.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bmc/driver.hpp"
#include "core/clock.hpp"

namespace ab::bmc {

/// Limits of a `guarded_driver`.
struct guard_options {
  /// Operations in flight at once across all BMCs.
  std::size_t max_in_flight = 256;
  /// Consecutive failures (BMC unreachable, timing out, answering 5xx) that open a BMC's
  /// circuit.
  int failure_threshold = 5;
  /// How long an open circuit refuses calls before one trial call may go through.
  std::chrono::milliseconds open_for{30000};
};

/// A driver that forwards to `inner` under the limits of `guard_options`. Waiting for a busy
/// BMC or for a free slot counts against the target's timeout. A call refused by an open
/// circuit is `errc::unavailable` naming the BMC and when it will be tried again.
class guarded_driver final : public driver {
 public:
  guarded_driver(std::shared_ptr<driver> inner, guard_options options,
                 std::shared_ptr<const ab::clock> clk = std::make_shared<system_clock>());

  std::string name() const override { return inner_->name(); }
  caf::expected<power_state> power(const target& t) override;
  caf::error set_power(const target& t, power_action a) override;
  caf::error set_boot(const target& t, boot_device d, bool once) override;
  caf::error set_media(const target& t, const std::string& image_url) override;
  caf::expected<inventory> read_inventory(const target& t) override;
  caf::expected<std::vector<erase_result>> erase_disks(const target& t) override;

  /// Whether the circuit of `endpoint` is open now (for status pages and tests).
  bool circuit_open(const std::string& endpoint) const;

 private:
  struct bmc_state {
    bool busy = false;
    int failures = 0;
    time_ms open_until = 0;
  };

  /// Runs `call` under the guard; `call` returns the error of the operation (or none).
  caf::error run(const target& t, const std::function<caf::error()>& call);

  std::shared_ptr<driver> inner_;
  guard_options options_;
  std::shared_ptr<const ab::clock> clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t in_flight_ = 0;
  std::map<std::string, bmc_state> bmcs_;
};

}  // namespace ab::bmc
