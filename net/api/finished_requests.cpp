#include "net/api/finished_requests.hpp"

#include <algorithm>

namespace ab::net {

finished_requests::finished_requests(std::shared_ptr<const ab::clock> clk, time_ms max_age_ms,
                                     std::size_t capacity)
    : clock_(clk ? std::move(clk) : std::make_shared<system_clock>()),
      max_age_(std::max<time_ms>(0, max_age_ms)),
      capacity_(std::max<std::size_t>(1, capacity)) {}

std::optional<storage::request_view> finished_requests::find(storage::request_id id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  if (clock_->monotonic() >= it->second.expires) {
    drop(it);
    return std::nullopt;
  }
  return *it->second.view;
}

void finished_requests::keep(const storage::request_view& r) {
  if (!storage::is_terminal(r.state) || max_age_.count() == 0) return;
  auto view = std::make_shared<const storage::request_view>(r);
  auto expires = clock_->monotonic() + max_age_;
  std::lock_guard<std::mutex> guard{mutex_};
  if (auto it = by_id_.find(r.id); it != by_id_.end()) drop(it);
  while (by_id_.size() >= capacity_) drop(by_id_.find(order_.front()));
  order_.push_back(r.id);
  by_id_.emplace(r.id, entry{std::move(view), expires, std::prev(order_.end())});
}

std::size_t finished_requests::size() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return by_id_.size();
}

void finished_requests::drop(entries::iterator it) {
  order_.erase(it->second.order);
  by_id_.erase(it);
}

}  // namespace ab::net
