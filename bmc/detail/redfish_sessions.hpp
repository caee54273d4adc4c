#pragma once

// The Redfish driver's sessions, kept between calls and jobs: one per BMC, keyed by its
// endpoint and the identity of the credentials (and TLS settings and endpoint policy) it was
// opened with, so that a rotated credential logs in afresh. Bounded; idle sessions and, at the end,
// all of them are logged out. Internal to `ab_bmc`.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "bmc/detail/redfish_client.hpp"
#include "bmc/driver.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace ab::bmc::detail {

/// How long a session of a BMC whose `SessionTimeout` is `timeout` may stay unused and still
/// be resumed: a margin (a tenth, at least a second) before the BMC would end it.
std::chrono::milliseconds usable_idle(std::chrono::milliseconds timeout);

/// The shortest `SessionTimeout` the Redfish standard allows a BMC to set.
inline constexpr std::chrono::milliseconds shortest_session_timeout{30000};

/// Limits of a `redfish_sessions`.
struct session_limits {
  /// Sessions kept at most; handing back one more logs out the least recently used.
  std::size_t max_sessions = 1024;
  /// A session unused this long is logged out; sooner when its BMC's `SessionTimeout` is
  /// shorter (`usable_idle`).
  std::chrono::milliseconds idle{60000};
  /// Deadline of one logout.
  std::chrono::milliseconds logout_timeout{2000};
};

/// A cache of Redfish sessions shared by every call of one driver. Thread-safe: a session is
/// owned by one call between `take` and `give_back` (two calls to one BMC at once each get
/// their own); a thread of its own logs out idle sessions.
class redfish_sessions {
 public:
  /// Sessions within `limits`, timed by `clk` (the system clock when null).
  explicit redfish_sessions(session_limits limits, std::shared_ptr<const ab::clock> clk = nullptr);
  redfish_sessions(const redfish_sessions&) = delete;
  redfish_sessions& operator=(const redfish_sessions&) = delete;

  /// Logs out every session kept.
  ~redfish_sessions();

  /// The session kept for `t`, now owned by the caller; null when none is kept for its
  /// endpoint and credentials (one kept for other credentials is logged out). A session
  /// unused for nearly its BMC's `SessionTimeout` is logged out first and comes back without
  /// a login (the client logs in again, keeping what navigation found).
  std::unique_ptr<redfish_session> take(const target& t);

  /// Keeps `s` (null: nothing) for the next call to `t`.
  void give_back(const target& t, std::unique_ptr<redfish_session> s);

  /// Logs out the sessions idle for longer than the limit; the idle thread calls it.
  void log_out_idle();

  /// Number of sessions kept (not counting those owned by calls).
  std::size_t size() const;

 private:
  struct entry {
    std::uint64_t identity = 0;
    mono_time last_used{};
    std::unique_ptr<redfish_session> session;
  };

  static std::uint64_t identity_of(const target& t);
  /// How long `e` may stay unused before it is logged out.
  std::chrono::milliseconds idle_limit(const entry& e) const;
  void log_out(std::vector<std::unique_ptr<redfish_session>> sessions) const;
  void watch_idle();

  session_limits limits_;
  std::shared_ptr<const ab::clock> clock_;
  mutable std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::map<std::string, entry> kept_;
  std::thread idle_thread_;
};

/// Runs `work` (a function of `redfish_client&`) with a conversation to `t` that resumes the
/// session `sessions` keeps for it, and hands the session back after. When `work` fails with
/// `not_found` after relying on what an earlier call found, it runs once more after finding
/// everything again (the BMC's resources changed).
template <class Work>
auto converse(redfish_sessions& sessions, const target& t, client_policy policy, Work&& work)
    -> decltype(work(std::declval<redfish_client&>())) {
  auto c = redfish_client::open(t, policy, sessions.take(t));
  if (!c) return std::move(c.error());
  auto result = work(**c);
  auto failed = [](const auto& r) -> caf::error {
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, caf::error>)
      return r;
    else
      return r ? caf::error{} : r.error();
  };
  if ((*c)->recalled_any() && is(failed(result), errc::not_found)) {
    (*c)->forget_found();
    result = work(**c);
  }
  sessions.give_back(t, (*c)->release());
  return result;
}

}  // namespace ab::bmc::detail
