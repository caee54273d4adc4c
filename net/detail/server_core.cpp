#include "net/detail/server_core.hpp"

#include "net/detail/session.hpp"

namespace ab::net::detail {

server_core::server_core(server_options options, handler h, std::shared_ptr<spdlog::logger> log,
                         std::shared_ptr<boost::asio::ssl::context> tls)
    : options_(std::move(options)),
      handler_(std::move(h)),
      log_(std::move(log)),
      tls_(std::move(tls)) {}

std::shared_ptr<connection> server_core::admit(boost::asio::ip::tcp::socket socket) {
  // Declared before the guard: should `emplace` throw, the session's destructor calls `leave`
  // after the mutex is released.
  std::shared_ptr<connection> s;
  std::lock_guard<std::mutex> guard{mutex_};
  if (sealed_) return nullptr;
  bool rejecting = serving_ >= options_.max_connections;
  // Rejections cost a write and a short linger each (and a handshake over TLS); past as many
  // again, just hang up.
  if (rejecting && rejecting_ >= options_.max_connections) return nullptr;
  if (tls_)
    s = std::make_shared<session<tls_stream>>(tls_stream{std::move(socket), *tls_},
                                              shared_from_this(), rejecting);
  else
    s = std::make_shared<session<plain_stream>>(plain_stream{std::move(socket)}, shared_from_this(),
                                                rejecting);
  ++(rejecting ? rejecting_ : serving_);
  sessions_.emplace(s.get(), s);
  return s;
}

void server_core::leave(const connection* s, bool rejecting) {
  std::lock_guard<std::mutex> guard{mutex_};
  sessions_.erase(s);
  --(rejecting ? rejecting_ : serving_);
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

std::vector<std::shared_ptr<connection>> server_core::seal() {
  {
    std::unique_lock<std::shared_mutex> guard{gate_};
    open_ = false;
  }
  std::vector<std::weak_ptr<connection>> registered;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    sealed_ = true;
    for (const auto& entry : sessions_) registered.push_back(entry.second);
  }
  // Locked outside the mutex: a session released here would re-enter it from `leave`.
  std::vector<std::shared_ptr<connection>> live;
  for (const auto& w : registered)
    if (auto s = w.lock()) live.push_back(std::move(s));
  return live;
}

}  // namespace ab::net::detail
