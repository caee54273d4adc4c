#include "net/http/detail/server_core.hpp"

#include <algorithm>

#include "net/http/detail/session.hpp"

namespace ab::net::detail {

namespace {

/// The address `socket` is connected to, IPv4-mapped IPv6 as IPv4; empty if the peer is gone.
std::string peer_of(const socket_type& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return {};
  auto address = ep.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
        .to_string();
  return address.to_string();
}

}  // namespace

server_core::server_core(server_options options, handler h, std::shared_ptr<spdlog::logger> log,
                         std::shared_ptr<boost::asio::ssl::context> tls)
    : options_(std::move(options)),
      handler_(std::move(h)),
      log_(std::move(log)),
      tls_(std::move(tls)) {}

bool server_core::is_probe(std::string_view path) const {
  return std::find(options_.probe_paths.begin(), options_.probe_paths.end(), path) !=
         options_.probe_paths.end();
}

std::shared_ptr<connection> server_core::admit(socket_type socket) {
  // Declared before the guard: should `emplace` throw, the session's destructor calls `leave`
  // after the mutex is released; the evicted session is closed (and maybe released) after it
  // too.
  std::shared_ptr<connection> s;
  std::shared_ptr<connection> victim;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (sealed_) return nullptr;
    auto peer = peer_of(socket);
    if (peer.empty()) return nullptr;
    // A peer at its cap competes only with itself: its own longest-waiting connection makes
    // room, and with all of its connections busy it is refused.
    // A router carries many clients' calls: its own cap would limit all of them at once.
    bool exempt = options_.peer_cap_exempt && options_.peer_cap_exempt(peer);
    if (auto known = per_peer_.find(peer); !exempt && known != per_peer_.end() &&
                                           known->second >= options_.max_connections_per_peer &&
                                           !evict_one(victim, &peer)) {
      log_->debug("{}: refused, the address has {} busy connections", peer, known->second);
      return nullptr;
    }
    bool reserve = false;
    if (serving_ >= options_.max_connections && !evict_one(victim)) {
      // Every served connection is in the middle of a request: only a probe gets in, in a
      // reserve slot; past those, hang up (a refusal costs as much as a probe).
      if (reserved_ >= options_.probe_reserve) {
        log_->debug("{}: refused, {} connections are busy and the probe reserve is full", peer,
                    serving_);
        return nullptr;
      }
      reserve = true;
    }
    if (tls_)
      s = std::make_shared<session<tls_stream>>(tls_stream{std::move(socket), *tls_},
                                                shared_from_this(), reserve, tls_);
    else
      s = std::make_shared<session<plain_stream>>(plain_stream{std::move(socket)},
                                                  shared_from_this(), reserve, nullptr);
    entry e;
    e.session = s;
    e.peer = peer;
    e.counted = !reserve;
    e.reserve = reserve;
    auto& stored = sessions_.emplace(s.get(), std::move(e)).first->second;
    ++per_peer_[peer];
    ++(reserve ? reserved_ : serving_);
    if (options_.connections_changed) options_.connections_changed(1);
    // A new connection waits for its first byte: it may be evicted before it even started.
    if (!reserve) {
      stored.place = waiting_.insert(waiting_.end(), s.get());
      stored.waiting = true;
    }
  }
  if (victim) victim->evict();
  return s;
}

bool server_core::evict_one(std::shared_ptr<connection>& victim, const std::string* of_peer) {
  auto it = waiting_.begin();
  if (of_peer)
    while (it != waiting_.end() && sessions_.at(*it).peer != *of_peer) ++it;
  if (it == waiting_.end()) return false;
  auto& e = sessions_.at(*it);
  waiting_.erase(it);
  e.waiting = false;
  // Its places are free at once; it closes without a goodbye, so it is gone soon after.
  e.counted = false;
  e.evicted = true;
  --serving_;
  if (auto p = per_peer_.find(e.peer); p != per_peer_.end() && --p->second == 0) per_peer_.erase(p);
  // Null if it is being destroyed already.
  victim = e.session.lock();
  log_->debug("{}: evicted an idle connection to make room", e.peer);
  return true;
}

void server_core::leave(const connection* s) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  auto& e = it->second;
  if (e.waiting) waiting_.erase(e.place);
  if (e.counted) --serving_;
  if (e.reserve) --reserved_;
  if (auto p = per_peer_.find(e.peer); !e.evicted && p != per_peer_.end() && --p->second == 0)
    per_peer_.erase(p);
  sessions_.erase(it);
  if (options_.connections_changed) options_.connections_changed(-1);
}

void server_core::waiting(const connection* s) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sessions_.find(s);
  if (it == sessions_.end() || !it->second.counted || it->second.waiting) return;
  it->second.waiting = true;
  it->second.place = waiting_.insert(waiting_.end(), s);
}

bool server_core::busy(const connection* s) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return false;
  auto& e = it->second;
  if (e.waiting) {
    waiting_.erase(e.place);
    e.waiting = false;
  }
  return e.counted || e.reserve;
}

bool server_core::promote(const connection* s) {
  // Declared before the guard: closed (and maybe released) after the mutex is released.
  std::shared_ptr<connection> victim;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = sessions_.find(s);
    if (it == sessions_.end() || !it->second.reserve) return false;
    if (serving_ >= options_.max_connections && !evict_one(victim)) return false;
    it->second.reserve = false;
    it->second.counted = true;
    --reserved_;
    ++serving_;
  }
  if (victim) victim->evict();
  return true;
}

bool server_core::deliver(const std::weak_ptr<connection>& s, http_response r) {
  std::shared_lock<std::shared_mutex> guard{gate_};
  if (!open_) return false;
  // Declared after the guard: should this be the last reference, the session dies while the
  // I/O context is certainly still alive.
  auto target = s.lock();
  if (!target) return false;
  target->respond(std::move(r));
  return true;
}

void server_core::replace_tls(std::shared_ptr<boost::asio::ssl::context> tls) {
  // Released outside the mutex; sessions on the old context hold it until they end.
  std::lock_guard<std::mutex> guard{mutex_};
  tls_.swap(tls);
}

std::vector<std::shared_ptr<connection>> server_core::seal() {
  {
    std::unique_lock<std::shared_mutex> guard{gate_};
    open_ = false;
  }
  std::vector<std::weak_ptr<connection>> registered;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    sealed_ = true;
    for (const auto& entry : sessions_) registered.push_back(entry.second.session);
  }
  // Locked outside the mutex: a session released here would re-enter it from `leave`.
  std::vector<std::shared_ptr<connection>> live;
  for (const auto& w : registered)
    if (auto s = w.lock()) live.push_back(std::move(s));
  return live;
}

}  // namespace ab::net::detail
