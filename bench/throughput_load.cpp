#include "bench/throughput_load.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "bench/api_client.hpp"

namespace ab::bench {

namespace {

using json = nlohmann::json;

/// Ids the bombard picks from.
constexpr std::size_t recent_kept = 4096;

/// How often the tracker reads what ended.
constexpr auto track_every = std::chrono::milliseconds(100);

}  // namespace

void call_counts::count(long status) {
  ++calls;
  if (status < 200 || status >= 300) {
    std::lock_guard<std::mutex> lock{mutex_};
    ++failed_[status];
  }
  if (status == 0)
    ++no_answer;
  else if (status == 429 || status == 503)
    ++shed;
  else if (status >= 500)
    ++errors_5xx;
  else if (status >= 300)
    ++other;
}

std::string call_counts::failures() const {
  std::lock_guard<std::mutex> lock{mutex_};
  std::string out;
  for (const auto& [status, n] : failed_)
    out += (out.empty() ? "" : " ") + std::to_string(status) + "x" + std::to_string(n);
  return out.empty() ? "none" : out;
}

reimage_load::reimage_load(std::vector<std::string> hosts, int clients, int batch, int api_port,
                           std::unique_ptr<storage::detail::connection_pool> db)
    : hosts_(std::move(hosts)), batch_(batch), api_port_(api_port), db_(std::move(db)) {
  for (int k = 0; k < clients; ++k) clients_.push_back(std::make_unique<client>());
  // Each client owns a slice of the fleet: a host is only ever in one client's hands.
  for (std::size_t i = 0; i < hosts_.size(); ++i) clients_[i % clients_.size()]->free.push_back(i);
}

reimage_load::~reimage_load() {
  stop();
}

void reimage_load::start() {
  stop_ = false;
  threads_.emplace_back([this] { run_tracker(); });
  for (std::size_t k = 0; k < clients_.size(); ++k)
    threads_.emplace_back([this, k] { run_client(k); });
}

void reimage_load::stop() {
  stop_ = true;
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> lock{c->mutex};
    c->wake.notify_all();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void reimage_load::run_client(std::size_t k) {
  auto& me = *clients_[k];
  api_client api{api_port_};
  std::int64_t seq = 0;
  while (!stop_) {
    std::vector<std::size_t> picked;
    {
      std::unique_lock<std::mutex> lock{me.mutex};
      me.wake.wait_for(lock, std::chrono::milliseconds(200),
                       [&] { return stop_ || me.free.size() >= static_cast<std::size_t>(batch_); });
      if (stop_) return;
      if (me.free.size() < static_cast<std::size_t>(batch_)) continue;
      picked.assign(me.free.begin(), me.free.begin() + batch_);
      me.free.erase(me.free.begin(), me.free.begin() + batch_);
    }
    json names = json::array();
    for (auto i : picked) names.push_back(hosts_[i]);
    json body{
        {"action", "reimage"}, {"hosts", names}, {"site", "dc1"}, {"confirm_hosts", names.size()}};
    auto text = body.dump();
    // One key per batch: a call repeated after a shed, an error or a lost answer is the same
    // submission, never a second request.
    auto key = "throughput-" + std::to_string(k) + "-" + std::to_string(++seq) + "-" +
               std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    api_answer a;
    for (;;) {
      a = api.post("/v1/requests", text, key);
      calls_.count(a.status);
      if (a.status == 202 || stop_) break;
      if (a.status >= 400 && a.status < 500 && a.status != 429) {
        std::fprintf(stderr, "ab-bench-throughput: a submission got %ld: %s\n", a.status,
                     a.body.c_str());
        break;
      }
      auto pause = a.retry_after > 0 ? std::chrono::milliseconds(1000 * a.retry_after)
                                     : std::chrono::milliseconds(100);
      std::this_thread::sleep_for(std::min(pause, std::chrono::milliseconds(1000)));
    }
    std::vector<std::size_t> back;
    auto doc = json::parse(a.body, nullptr, false);
    if (a.status != 202 || !doc.is_object() || !doc["requests"].is_array()) {
      back = picked;
    } else {
      ++batches_;
      std::lock_guard<std::mutex> lock{mutex_};
      std::size_t n = 0;
      for (const auto& r : doc["requests"]) {
        if (n >= picked.size()) break;
        auto host = picked[n++];
        auto id = r.value("id", std::int64_t{0});
        if (r.value("status", "") != "accepted" || id == 0) {
          back.push_back(host);
          continue;
        }
        recent_.push_back(id);
        if (recent_.size() > recent_kept) recent_.pop_front();
        if (ended_early_.erase(id))
          back.push_back(host);
        else
          owners_[id] = {k, host};
      }
      for (; n < picked.size(); ++n) back.push_back(picked[n]);
    }
    if (!back.empty()) {
      std::lock_guard<std::mutex> lock{me.mutex};
      me.free.insert(me.free.end(), back.begin(), back.end());
    }
  }
}

void reimage_load::run_tracker() {
  auto c = db_->acquire();
  c->autocommit();
  // Only what ends from now on: the reimages of the warm-up's hosts that failed ended before.
  std::int64_t since = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  while (!stop_) {
    std::vector<finished_request> rows;
    try {
      auto r = c->query(
          "SELECT id, state, finished_at FROM requests WHERE finished_at >= ? AND action = "
          "'reimage' AND state IN ('succeeded', 'failed', 'cancelled') ORDER BY finished_at "
          "LIMIT 10000",
          {since});
      while (r->next()) rows.push_back({r->i64(0), r->i64(2), r->text(1) == "succeeded"});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ab-bench-throughput: the tracker's read failed: %s\n", e.what());
    }
    if (!rows.empty()) {
      // Rows of the last millisecond may be joined by others of it: read it again next time.
      since = rows.back().finished_at;
      settle(rows);
    }
    std::this_thread::sleep_for(track_every);
  }
}

void reimage_load::settle(const std::vector<finished_request>& rows) {
  std::vector<std::pair<std::size_t, std::size_t>> back;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    for (const auto& row : rows) {
      if (!seen_.insert(row.id).second) continue;
      finished_.push_back(row);
      auto it = owners_.find(row.id);
      if (it == owners_.end()) {
        ended_early_.insert(row.id);
        continue;
      }
      back.push_back(it->second);
      owners_.erase(it);
    }
  }
  for (auto [k, host] : back) {
    auto& c = *clients_[k];
    std::lock_guard<std::mutex> lock{c.mutex};
    c.free.push_back(host);
    c.wake.notify_one();
  }
}

std::pair<std::int64_t, std::int64_t> reimage_load::finished_between(std::int64_t from_ms,
                                                                     std::int64_t to_ms) const {
  std::lock_guard<std::mutex> lock{mutex_};
  std::pair<std::int64_t, std::int64_t> out{0, 0};
  for (const auto& f : finished_)
    if (f.finished_at >= from_ms && f.finished_at < to_ms) ++(f.succeeded ? out.first : out.second);
  return out;
}

std::int64_t reimage_load::in_flight() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return static_cast<std::int64_t>(owners_.size());
}

std::vector<std::int64_t> reimage_load::recent_ids() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return {recent_.begin(), recent_.end()};
}

load_request bombard_call(std::size_t i, const std::vector<std::int64_t>& ids,
                          const std::vector<std::string>& hosts) {
  // A fixed mix, spread over the schedule: 6 of 10 calls read one request (what a client
  // polling its batch does), 2 a host, 1 a page of the site's requests, 1 the queue.
  auto pick = (i * 2654435761u) >> 7;
  switch (i % 10) {
    case 0:
      return {"GET", "/v1/requests?site=dc1&limit=100", ""};
    case 5:
      return {"GET", "/v1/queue?site=dc1", ""};
    case 3:
    case 7:
      return {"GET", "/v1/hosts/" + hosts[pick % hosts.size()] + "?site=dc1", ""};
    default:
      if (ids.empty()) return {"GET", "/v1/hosts/" + hosts[pick % hosts.size()] + "?site=dc1", ""};
      return {"GET", "/v1/requests/" + std::to_string(ids[pick % ids.size()]), ""};
  }
}

}  // namespace ab::bench
