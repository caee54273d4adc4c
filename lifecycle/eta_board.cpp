#include "lifecycle/eta_board.hpp"

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "lifecycle/workflows.hpp"

namespace ab::lifecycle {

namespace {

/// A finish may commit this long after another with a later time: finishes are read again
/// from this far back, and ids seen are skipped.
constexpr time_ms finish_slack_ms = 5000;
/// The most finishes read per refresh (in pages of this size, up to four).
constexpr std::size_t finish_page = 1000;
/// The window of the done jobs per minute of the queue's lines.
constexpr time_ms done_window_ms = 60 * 1000;
/// The most unclaimed finishes kept for `take_finished` when nobody takes them.
constexpr std::size_t unclaimed_limit = 10000;

std::shared_ptr<spdlog::logger> logger() {
  static auto log = [] {
    auto l = spdlog::get("eta");
    return l ? l : spdlog::default_logger()->clone("eta");
  }();
  return log;
}

}  // namespace

eta_board::eta_board(std::shared_ptr<storage::eta_store> store,
                     std::shared_ptr<const ab::clock> clk, eta_board_options options)
    : store_(std::move(store)), clock_(std::move(clk)), options_(std::move(options)) {
  if (options_.job_types.empty())
    for (const auto& [type, needs] : job_types()) options_.job_types.push_back(type);
}

bool eta_board::refresh(bool force) {
  std::lock_guard<std::mutex> lock{mutex_};
  return refresh_locked(clock_->now(), force);
}

bool eta_board::refresh_locked(time_ms now, bool force) {
  if (!force && refreshed_at_ > 0 && now - refreshed_at_ < options_.refresh_ms) return true;
  refreshed_at_ = now;
  overview_.reset();
  // Finishes since the last read (from the whole window on the first).
  auto from = seen_until_ > 0 ? seen_until_ - finish_slack_ms : now - options_.history_ms;
  for (int page = 0; page < 4; ++page) {
    auto got = store_->finished_requests(options_.site, from, finish_page);
    if (!got) {
      logger()->warn("cannot read finished requests: {}", message_of(got.error()));
      return false;
    }
    for (auto& f : *got) {
      from = std::max(from, f.finished_at);
      if (!recent_ids_.emplace(f.finished_at, f.id).second) continue;
      seen_until_ = std::max(seen_until_, f.finished_at);
      if (f.state == storage::request_state::succeeded && f.started_at > 0) {
        auto& runs = runs_[f.action];
        runs.emplace_back(f.started_at, f.finished_at);
        if (runs.size() > options_.history_runs) runs.pop_front();
      }
      if (unclaimed_.size() < unclaimed_limit) unclaimed_.push_back(std::move(f));
    }
    if (got->size() < finish_page) break;
    // A full page: several finishes may share its last time, so read on from just before it.
    from -= 1;
  }
  while (!recent_ids_.empty() && recent_ids_.begin()->first < seen_until_ - finish_slack_ms)
    recent_ids_.erase(recent_ids_.begin());
  for (auto& [action, runs] : runs_)
    while (!runs.empty() && runs.front().second < now - options_.history_ms) runs.pop_front();
  // The done jobs of the last minute: only the seconds since the last read (and the slack
  // before them) are read again; the older ones of the window are kept.
  const time_ms window_from = now - done_window_ms;
  time_ms done_since = window_from;
  if (done_read_at_ > 0) done_since = std::max(window_from, done_read_at_ - finish_slack_ms);
  done_since -= ((done_since % 1000) + 1000) % 1000;  // whole seconds
  auto o = store_->overview(options_.site, now - options_.stuck_after_ms, options_.job_types,
                            done_since);
  if (!o) {
    logger()->warn("cannot read the queue: {}", message_of(o.error()));
    done_read_at_ = 0;  // read the whole minute again next time
    return false;
  }
  for (auto it = done_window_.begin(); it != done_window_.end();) {
    auto& seconds = it->second;
    // Seconds read again now, and those that left the window (a second counts while any of
    // it is in the window).
    seconds.erase(seconds.lower_bound(done_since), seconds.end());
    seconds.erase(seconds.begin(), seconds.upper_bound(window_from - 1000));
    it = seconds.empty() ? done_window_.erase(it) : std::next(it);
  }
  for (const auto& d : o->done_seconds)
    if (d.second > window_from - 1000)
      done_window_[{d.type, d.priority_class, d.action}][d.second] += d.count;
  done_read_at_ = now;
  // Every line's count over the window, a line for each kind done but with none ready too.
  for (auto& row : o->ready) row.done = 0;
  for (const auto& [key, seconds] : done_window_) {
    const auto& [type, cls, action] = key;
    auto it = std::find_if(o->ready.begin(), o->ready.end(), [&](const auto& x) {
      return x.type == type && x.priority_class == cls && x.action == action;
    });
    if (it == o->ready.end()) {
      o->ready.push_back({type, cls, action, 0, 0, 0});
      it = o->ready.end() - 1;
    }
    for (const auto& [second, count] : seconds) it->done += count;
  }
  std::sort(o->ready.begin(), o->ready.end(), [](const auto& x, const auto& y) {
    return std::tie(x.type, x.priority_class, x.action) <
           std::tie(y.type, y.priority_class, y.action);
  });
  active_.clear();
  for (const auto& row : o->active) {
    auto& [queued, running] = active_[row.action];
    (row.state == storage::request_state::queued ? queued : running) += row.count;
  }
  queue_.clear();
  for (const auto& row : o->ready)
    if (std::find(options_.job_types.begin(), options_.job_types.end(), row.type) !=
        options_.job_types.end())
      queue_.push_back({row.type, row.action, row.priority_class, row.count,
                        row.count > 0 ? std::max<time_ms>(0, now - row.oldest_since) : 0,
                        static_cast<double>(row.done)});
  overview_ = std::move(*o);
  return true;
}

action_outlook eta_board::outlook_locked(const std::string& action) const {
  action_outlook o;
  std::vector<std::pair<time_ms, time_ms>> intervals;
  if (auto it = runs_.find(action); it != runs_.end()) {
    std::vector<time_ms> durations;
    for (const auto& [from, to] : it->second) {
      durations.push_back(to - from);
      intervals.emplace_back(from, to);
    }
    o.run = summarise(std::move(durations));
  }
  if (auto it = active_.find(action); it != active_.end()) {
    o.queued = it->second.first;
    o.running = it->second.second;
  }
  o.capacity = std::max(o.running, max_overlap(intervals));
  return o;
}

std::optional<estimate> eta_board::estimate_of(const storage::request_view& r) {
  if (storage::is_terminal(r.state) || r.site != options_.site) return std::nullopt;
  eta_request q;
  q.started = r.state == storage::request_state::running;
  q.started_at = r.started_at;
  q.jobs_total = r.chain_length;
  q.jobs_done = r.jobs_done;
  action_outlook o;
  time_ms now = 0;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    now = clock_->now();
    refresh_locked(now, false);
    o = outlook_locked(r.action);
  }
  if (!q.started) {
    auto credit = options_.class_credit_ms.find(r.priority_class);
    auto vdeadline = r.created_at - (credit == options_.class_credit_ms.end() ? 0 : credit->second);
    auto ahead = store_->queued_ahead(options_.site, r.action, vdeadline, r.id);
    if (!ahead) return std::nullopt;
    q.ahead = *ahead;
  }
  return estimate_completion(q, o, now, options_.assumed_ms);
}

std::vector<estimate> eta_board::estimate_new(const std::string& action,
                                              const std::string& priority_class,
                                              std::size_t count) {
  action_outlook o;
  time_ms now = 0;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    now = clock_->now();
    refresh_locked(now, false);
    o = outlook_locked(action);
  }
  auto credit = options_.class_credit_ms.find(priority_class);
  auto vdeadline = now - (credit == options_.class_credit_ms.end() ? 0 : credit->second);
  auto ahead = store_->queued_ahead(options_.site, action, vdeadline,
                                    std::numeric_limits<storage::request_id>::max());
  if (!ahead) return {};
  std::vector<estimate> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    eta_request q;
    q.ahead = *ahead + static_cast<std::int64_t>(i);
    out.push_back(estimate_completion(q, o, now, options_.assumed_ms));
    // The earlier ones of the batch are queued too once it is stored.
    ++o.queued;
  }
  return out;
}

std::vector<queue_line> eta_board::queue() {
  std::lock_guard<std::mutex> lock{mutex_};
  refresh_locked(clock_->now(), false);
  return queue_;
}

std::optional<storage::queue_overview> eta_board::overview() {
  std::lock_guard<std::mutex> lock{mutex_};
  refresh_locked(clock_->now(), false);
  return overview_;
}

std::map<std::string, action_outlook> eta_board::outlooks() {
  std::lock_guard<std::mutex> lock{mutex_};
  refresh_locked(clock_->now(), false);
  std::map<std::string, action_outlook> out;
  for (const auto& [action, runs] : runs_) out[action] = outlook_locked(action);
  for (const auto& [action, counts] : active_) out[action] = outlook_locked(action);
  return out;
}

std::vector<storage::finished_sample> eta_board::take_finished() {
  std::lock_guard<std::mutex> lock{mutex_};
  return std::exchange(unclaimed_, {});
}

}  // namespace ab::lifecycle
