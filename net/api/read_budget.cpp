#include "net/api/read_budget.hpp"

#include <algorithm>
#include <chrono>

namespace ab::net {

read_budget::read_budget(double ms_per_s, std::function<double()> now_ms)
    : rate_(std::max(ms_per_s, 0.0)), now_(std::move(now_ms)) {
  if (!now_)
    now_ = [] {
      return std::chrono::duration<double, std::milli>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  tokens_ = rate_;
  at_ = now_();
}

void read_budget::refill_locked(double now) {
  if (now > at_) tokens_ = std::min(rate_, tokens_ + (now - at_) * rate_ / 1000.0);
  at_ = std::max(at_, now);
}

bool read_budget::admit() {
  if (rate_ <= 0) return true;
  std::lock_guard<std::mutex> lock{mutex_};
  refill_locked(now_());
  return tokens_ > 0;
}

void read_budget::spend(double ms) {
  if (rate_ <= 0 || !(ms > 0)) return;
  std::lock_guard<std::mutex> lock{mutex_};
  refill_locked(now_());
  // Bounded below: reads in flight together may overdraw it, by at most a few seconds' worth.
  tokens_ = std::max(tokens_ - ms, -5 * rate_);
}

double read_budget::left() {
  std::lock_guard<std::mutex> lock{mutex_};
  refill_locked(now_());
  return tokens_;
}

}  // namespace ab::net
