#include "bmc/detail/redfish_sessions.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "core/hash.hpp"

namespace ab::bmc::detail {

namespace {

/// Threads that log out many sessions at once (at the end, a burst of idle ones).
constexpr std::size_t logout_threads = 8;

}  // namespace

std::chrono::milliseconds usable_idle(std::chrono::milliseconds timeout) {
  auto margin = std::max<std::chrono::milliseconds>(timeout / 10, std::chrono::seconds(1));
  return std::max(timeout - margin, std::chrono::milliseconds{0});
}

redfish_sessions::redfish_sessions(session_limits limits, std::shared_ptr<const ab::clock> clk)
    : limits_(limits), clock_(clk ? std::move(clk) : std::make_shared<system_clock>()) {
  idle_thread_ = std::thread([this] { watch_idle(); });
}

redfish_sessions::~redfish_sessions() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  idle_thread_.join();
  std::vector<std::unique_ptr<redfish_session>> all;
  for (auto& [endpoint, e] : kept_) all.push_back(std::move(e.session));
  kept_.clear();
  log_out(std::move(all));
}

std::uint64_t redfish_sessions::identity_of(const target& t) {
  // A digest, not the password: a session outlives the call that brought the credentials.
  std::string id = t.user;
  id += '\0';
  id += t.password;
  id += '\0';
  id += t.insecure ? '1' : '0';
  id += t.ca_file;
  // A kept connection was checked against the policy it was opened under.
  id += '\0';
  id += std::to_string(reinterpret_cast<std::uintptr_t>(t.policy.get()));
  auto digest = fnv1a64(id);
  std::fill(id.begin(), id.end(), '\0');
  return digest;
}

std::chrono::milliseconds redfish_sessions::idle_limit(const entry& e) const {
  if (!e.session || e.session->timeout <= std::chrono::milliseconds{0}) return limits_.idle;
  return std::min(limits_.idle, usable_idle(e.session->timeout));
}

std::unique_ptr<redfish_session> redfish_sessions::take(const target& t) {
  auto identity = identity_of(t);
  std::vector<std::unique_ptr<redfish_session>> stale;
  std::unique_ptr<redfish_session> out;
  bool expiring = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = kept_.find(t.endpoint);
    if (it == kept_.end()) return nullptr;
    // Other credentials (a rotation) or TLS settings: that session ends, a new one begins.
    if (it->second.identity == identity) {
      expiring = clock_->monotonic() - it->second.last_used >= idle_limit(it->second);
      out = std::move(it->second.session);
    } else {
      stale.push_back(std::move(it->second.session));
    }
    kept_.erase(it);
  }
  log_out(std::move(stale));
  // Renewed before the BMC ends it: logged out now, logged in again by the client, which keeps
  // the connection and what navigation found.
  if (out && expiring) detail::log_out(*out, limits_.logout_timeout);
  return out;
}

void redfish_sessions::give_back(const target& t, std::unique_ptr<redfish_session> s) {
  if (!s) return;
  auto identity = identity_of(t);
  std::vector<std::unique_ptr<redfish_session>> leaving;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, fresh] = kept_.try_emplace(t.endpoint);
    if (stopping_) {
      leaving.push_back(std::move(s));
    } else if (!fresh && it->second.identity == identity) {
      // A call that ran beside this one kept its session first: one per BMC is enough.
      leaving.push_back(std::move(s));
      it->second.last_used = clock_->monotonic();
    } else {
      if (!fresh) leaving.push_back(std::move(it->second.session));
      it->second = {identity, clock_->monotonic(), std::move(s)};
    }
    while (kept_.size() > limits_.max_sessions) {
      auto oldest = std::min_element(kept_.begin(), kept_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      leaving.push_back(std::move(oldest->second.session));
      kept_.erase(oldest);
    }
  }
  log_out(std::move(leaving));
}

void redfish_sessions::log_out_idle() {
  std::vector<std::unique_ptr<redfish_session>> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = clock_->monotonic();
    for (auto it = kept_.begin(); it != kept_.end();) {
      if (now - it->second.last_used >= idle_limit(it->second)) {
        idle.push_back(std::move(it->second.session));
        it = kept_.erase(it);
      } else {
        ++it;
      }
    }
  }
  log_out(std::move(idle));
}

std::size_t redfish_sessions::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kept_.size();
}

void redfish_sessions::log_out(std::vector<std::unique_ptr<redfish_session>> sessions) const {
  if (sessions.size() <= 1) {
    for (auto& s : sessions) detail::log_out(*s, limits_.logout_timeout);
    return;
  }
  // Logouts block on their BMCs, a dead one for the whole timeout: a few run side by side.
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < std::min(logout_threads, sessions.size()); ++i)
    threads.emplace_back([&] {
      for (auto n = next++; n < sessions.size(); n = next++)
        detail::log_out(*sessions[n], limits_.logout_timeout);
    });
  for (auto& t : threads) t.join();
}

void redfish_sessions::watch_idle() {
  auto interval =
      std::clamp(limits_.idle / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    log_out_idle();
    lock.lock();
  }
}

}  // namespace ab::bmc::detail
