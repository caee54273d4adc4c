#include "net/api/failure_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace ab::net {

std::string source_key(const std::string& address) {
  in6_addr v6{};
  if (address.find(':') == std::string::npos || ::inet_pton(AF_INET6, address.c_str(), &v6) != 1)
    return address;
  const auto* b = v6.s6_addr;
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(b, b + 12, mapped)) {
    char out[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, b + 12, out, sizeof out);
    return out;
  }
  char out[32];
  std::snprintf(out, sizeof out, "%x:%x:%x:%x::/64", b[0] << 8 | b[1], b[2] << 8 | b[3],
                b[4] << 8 | b[5], b[6] << 8 | b[7]);
  return out;
}

failure_limiter::failure_limiter(failure_limits limits, std::shared_ptr<const ab::clock> clk)
    : limits_(limits), clock_(clk ? std::move(clk) : std::make_shared<system_clock>()) {
  if (limits_.max_sources == 0) limits_.max_sources = 1;
}

void failure_limiter::expire(time_ms now) {
  while (!order_.empty() && now - order_.front().since >= limits_.window_ms) {
    by_key_.erase(order_.front().key);
    order_.pop_front();
  }
}

std::optional<time_ms> failure_limiter::blocked(const std::string& address) {
  if (limits_.max_failures == 0) return std::nullopt;
  auto now = clock_->now();
  std::lock_guard lock{mutex_};
  expire(now);
  auto it = by_key_.find(source_key(address));
  if (it == by_key_.end() || it->second->failures < limits_.max_failures) return std::nullopt;
  return it->second->since + limits_.window_ms - now;
}

void failure_limiter::record_failure(const std::string& address) {
  if (limits_.max_failures == 0) return;
  auto now = clock_->now();
  auto key = source_key(address);
  std::lock_guard lock{mutex_};
  expire(now);
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    ++it->second->failures;
    return;
  }
  if (order_.size() >= limits_.max_sources) {
    by_key_.erase(order_.front().key);
    order_.pop_front();
  }
  order_.push_back({key, now, 1});
  by_key_.emplace(std::move(key), std::prev(order_.end()));
}

std::size_t failure_limiter::tracked() const {
  std::lock_guard lock{mutex_};
  return order_.size();
}

}  // namespace ab::net
