#include "bmc/guard.hpp"

#include <optional>

#include "core/error.hpp"

namespace ab::bmc {

guarded_driver::guarded_driver(std::shared_ptr<driver> inner, guard_options options,
                               std::shared_ptr<const ab::clock> clk)
    : inner_(std::move(inner)), options_(options), clock_(std::move(clk)) {}

bool guarded_driver::circuit_open(const std::string& endpoint) const {
  std::lock_guard lock{mutex_};
  auto it = bmcs_.find(endpoint);
  return it != bmcs_.end() && it->second.open_until > clock_->now();
}

caf::error guarded_driver::run(const target& t, const std::function<caf::error()>& call) {
  const auto& key = t.endpoint;
  {
    std::unique_lock lock{mutex_};
    auto& b = bmcs_[key];
    if (b.open_until > clock_->now())
      return make_error(errc::unavailable,
                        t.endpoint + " failed " + std::to_string(b.failures) +
                            " times in a row; not tried again for " +
                            std::to_string((b.open_until - clock_->now() + 999) / 1000) + " s");
    auto deadline = std::chrono::steady_clock::now() + t.timeout;
    // One operation at a time per BMC, and at most max_in_flight in all.
    if (!changed_.wait_until(lock, deadline, [&] {
          return !bmcs_[key].busy && in_flight_ < options_.max_in_flight;
        }))
      return make_error(errc::unavailable,
                        t.endpoint + " is busy with another operation, or this node with " +
                            std::to_string(options_.max_in_flight) + " BMC operations");
    bmcs_[key].busy = true;
    ++in_flight_;
  }
  auto err = call();
  {
    std::lock_guard lock{mutex_};
    auto& b = bmcs_[key];
    b.busy = false;
    --in_flight_;
    if (is(err, errc::unavailable)) {
      // A failed trial after the circuit opened re-opens it at once.
      if (++b.failures >= options_.failure_threshold)
        b.open_until = clock_->now() + options_.open_for.count();
    } else {
      b.failures = 0;
      b.open_until = 0;
    }
  }
  changed_.notify_all();
  return err;
}

namespace {

/// Runs a call that returns a value through `run`, keeping the value.
template <class T, class Run, class Call>
caf::expected<T> with_value(Run&& run, Call&& call) {
  std::optional<caf::expected<T>> out;
  auto err = run([&]() -> caf::error {
    out.emplace(call());
    return *out ? caf::error{} : out->error();
  });
  if (err) return err;
  return std::move(*out);
}

}  // namespace

caf::expected<power_state> guarded_driver::power(const target& t) {
  return with_value<power_state>([&](const auto& f) { return run(t, f); },
                                 [&] { return inner_->power(t); });
}

caf::error guarded_driver::set_power(const target& t, power_action a) {
  return run(t, [&] { return inner_->set_power(t, a); });
}

caf::error guarded_driver::set_boot(const target& t, boot_device d, bool once) {
  return run(t, [&] { return inner_->set_boot(t, d, once); });
}

caf::error guarded_driver::set_media(const target& t, const std::string& image_url) {
  return run(t, [&] { return inner_->set_media(t, image_url); });
}

caf::expected<inventory> guarded_driver::read_inventory(const target& t) {
  return with_value<inventory>([&](const auto& f) { return run(t, f); },
                               [&] { return inner_->read_inventory(t); });
}

caf::expected<std::vector<erase_result>> guarded_driver::erase_disks(const target& t) {
  return with_value<std::vector<erase_result>>([&](const auto& f) { return run(t, f); },
                                               [&] { return inner_->erase_disks(t); });
}

}  // namespace ab::bmc
