#include "bmcsim/fleet.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "bmcsim/bmc_state.hpp"
#include "bmcsim/installer.hpp"
#include "bmcsim/service.hpp"
#include "core/error.hpp"

namespace ab::bmc::sim {

namespace {

using json = nlohmann::json;
namespace asio = boost::asio;

/// True for ids that can be a URL segment: 1 to 64 of `[A-Za-z0-9._-]`.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (unsigned char c : id)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

/// What the faults decided for one request.
enum class verdict { serve, drop, hang, error, garbage };

net::http_response garbage_response() {
  net::http_response r;
  r.body = "{\"@odata.id\": \"/redfish/v1/\", \"Name\": <html>502 Bad Gateway";
  return r;
}

net::http_response injected_error(bool unavailable) {
  if (!unavailable)
    return error_response(500, "InternalError",
                          "The request failed due to an internal service error (injected).");
  auto r = error_response(503, "ServiceTemporarilyUnavailable",
                          "The service is temporarily unavailable; retry in 1 seconds.", {"1"});
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace

struct fleet::impl {
  fleet_options options;
  std::shared_ptr<ab::clock> clk;

  mutable std::mutex mutex;
  std::unordered_map<std::string, bmc_state> bmcs;
  fault_set fleet_faults;
  std::mt19937_64 rng;

  // Timers for latency and hangs run here, never on the server's I/O threads.
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread timer_thread;

  // Installer callbacks block in libcurl, so they get threads of their own: a few at once, as
  // real installers call back independently.
  asio::io_context callback_io;
  asio::executor_work_guard<asio::io_context::executor_type> callback_work{
      callback_io.get_executor()};
  std::vector<std::thread> callback_threads;
  std::atomic<bool> stopping{false};

  // What the benchmark reads from /sim/stats.
  std::atomic<std::uint64_t> requests_served{0};
  std::atomic<std::uint64_t> callbacks_sent{0};
  std::atomic<int> callbacks_in_flight{0};
  std::atomic<int> callbacks_in_flight_max{0};

  /// Runs `fn` after `ms` milliseconds on `ctx` (by default the timer thread).
  void after(std::int64_t ms, std::function<void()> fn) { after_on(io, ms, std::move(fn)); }

  static void after_on(asio::io_context& ctx, std::int64_t ms, std::function<void()> fn) {
    auto t = std::make_shared<asio::steady_timer>(ctx, std::chrono::milliseconds(ms));
    t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }

  time_ms scaled(double ms) const { return static_cast<time_ms>(ms * options.time_scale); }

  bmc_state& bmc(const std::string& id) {
    auto it = bmcs.find(id);
    if (it == bmcs.end()) it = bmcs.emplace(id, make_bmc(id)).first;
    return it->second;
  }

  /// Settles `b` at `now` and lets the installer react to a boot or a power-off. Under the lock.
  void tick(bmc_state& b, time_ms now);
  /// Records an install event of `b` at `now`.
  void note(bmc_state& b, time_ms now, const std::string& kind, const std::string& image,
            long status = 0, std::string detail = {}) {
    b.installs.push_back({now, kind, image, status, std::move(detail)});
  }
  /// Settles BMC `id` when its transition ends, so boots happen even if nobody asks.
  void settle_later(const bmc_state& b, time_ms now);
  /// Ends installation `run` of BMC `id`: calls back, or not, as the faults say.
  void finish_install(const std::string& id, std::uint64_t run, const install_order& order);
  /// Delivers one callback attempt (on a callback thread) and records the outcome.
  void send_callback(const std::string& id, const install_order& order, const std::string& body,
                     int attempt);

  verdict judge(const fault_set& f) {
    if (f.drop) return verdict::drop;
    if (f.hang) return verdict::hang;
    if (f.error_rate > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < f.error_rate)
      return verdict::error;
    if (f.garbage) return verdict::garbage;
    return verdict::serve;
  }

  /// Answers a Redfish request to BMC `id` with `rest` the path after `/redfish/v1`; returns the
  /// response and the latency to add.
  std::pair<net::http_response, int> redfish(const std::string& id, const std::string& rest,
                                             const net::http_request& req) {
    std::lock_guard<std::mutex> guard{mutex};
    auto& b = bmc(id);
    auto now = clk->now();
    tick(b, now);
    ++b.requests[req.method];
    const auto faults = b.faults.value_or(fleet_faults);
    auto v = judge(faults);
    if (v != verdict::serve) ++b.faults_injected;
    net::http_response r;
    switch (v) {
      case verdict::drop:
        r.drop = true;
        break;
      case verdict::hang:
        return {r, -1};
      case verdict::error:
        r = injected_error(std::uniform_int_distribution<int>(0, 1)(rng) == 0);
        break;
      case verdict::garbage:
        r = garbage_response();
        break;
      case verdict::serve:
        r = serve_redfish(b, "/bmc/" + id + "/redfish/v1", rest, req, context(now, faults, req));
        settle_later(b, now);
        break;
    }
    return {std::move(r), faults.latency_ms};
  }

  service_context context(time_ms now, const fault_set& faults, const net::http_request& req) {
    service_context ctx{options.user, options.password,         now,
                        nullptr,      scaled(options.erase_ms), faults.auth_fail};
    if (auto job = req.headers.find("x-ab-job"); job != req.headers.end()) ctx.job = job->second;
    // Called under the lock, like the rest of `redfish`.
    ctx.reset_delay = [this] {
      std::uniform_int_distribution<int> d(options.reset_min_ms,
                                           std::max(options.reset_min_ms, options.reset_max_ms));
      return scaled(d(rng));
    };
    return ctx;
  }

  net::http_response control(const net::http_request& req, const std::string& path);
  /// The counters `GET /sim/stats` answers.
  json stats() const;
  net::http_response faults_call(const net::http_request& req, const std::string& id);
};

void fleet::impl::tick(bmc_state& b, time_ms now) {
  auto boots = b.boots.size();
  settle(b, now);
  bool booted = b.boots.size() != boots;
  if (b.installing && (booted || (!b.powered && b.transition.empty()))) {
    b.installing = false;
    note(b, now, "cancelled", "", 0, booted ? "booted again" : "powered off");
  }
  if (!booted || b.boots.back().target != "Cd") return;
  auto order = install_order_of(b.boots.back().image);
  if (!order) return;
  auto run = ++b.install_run;
  b.installing = true;
  note(b, now, "started", order->image);
  after(scaled(options.install_ms),
        [this, id = b.id, run, o = *order] { finish_install(id, run, o); });
}

void fleet::impl::settle_later(const bmc_state& b, time_ms now) {
  if (b.transition.empty()) return;
  after(std::max<time_ms>(0, b.transition_end - now) + 1, [this, id = b.id] {
    std::lock_guard<std::mutex> guard{mutex};
    tick(bmc(id), clk->now());
  });
}

void fleet::impl::finish_install(const std::string& id, std::uint64_t run,
                                 const install_order& order) {
  std::lock_guard<std::mutex> guard{mutex};
  auto& b = bmc(id);
  auto now = clk->now();
  tick(b, now);
  if (!b.installing || b.install_run != run) return;
  b.installing = false;
  const auto faults = b.faults.value_or(fleet_faults);
  if (faults.install_lost) return note(b, now, "lost", order.image, 0, "injected install_lost");
  asio::post(callback_io, [this, id, order, body = callback_body(order, faults.install_fail)] {
    send_callback(id, order, body, 1);
  });
}

void fleet::impl::send_callback(const std::string& id, const install_order& order,
                                const std::string& body, int attempt) {
  auto in_flight = ++callbacks_in_flight;
  for (auto most = callbacks_in_flight_max.load();
       in_flight > most && !callbacks_in_flight_max.compare_exchange_weak(most, in_flight);) {
  }
  auto result =
      post_callback(order, body, std::chrono::milliseconds(options.callback_timeout_ms), stopping);
  --callbacks_in_flight;
  ++callbacks_sent;
  std::lock_guard<std::mutex> guard{mutex};
  auto& b = bmc(id);
  auto status = json::parse(body).value("status", "");
  if (result.delivered())
    return note(b, clk->now(), "called_back", order.image, result.status, status);
  auto why = result.status != 0 ? "HTTP " + std::to_string(result.status) : result.failure;
  if (attempt >= options.callback_attempts)
    return note(b, clk->now(), "failed", order.image, result.status,
                "callback not delivered after " + std::to_string(attempt) + " attempts: " + why);
  after_on(callback_io, static_cast<std::int64_t>(options.callback_backoff_ms) << (attempt - 1),
           [this, id, order, body, attempt] { send_callback(id, order, body, attempt + 1); });
}

net::http_response fleet::impl::faults_call(const net::http_request& req, const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex};
  if (!id.empty() && !bmcs.contains(id) && req.method != "POST")
    return error_response(404, "ResourceNotFound", "No BMC named " + id + ".", {"BMC", id});
  if (req.method == "POST") {
    auto j = json::parse(req.body, nullptr, false);
    auto f = apply_json({}, j);
    if (!f) return error_response(400, "PropertyValueFormatError", message_of(f.error()));
    if (id.empty())
      fleet_faults = *f;
    else
      bmc(id).faults = *f;
  } else if (req.method == "DELETE") {
    if (id.empty())
      fleet_faults = {};
    else
      bmc(id).faults.reset();
  } else if (req.method != "GET") {
    return error_response(405, "OperationNotAllowed", "Use GET, POST or DELETE.");
  }
  if (id.empty()) return json_response(200, to_json(fleet_faults).dump());
  const auto& b = bmc(id);
  return json_response(200, to_json(b.faults.value_or(fleet_faults)).dump());
}

net::http_response fleet::impl::control(const net::http_request& req, const std::string& path) {
  if (path == "/sim/faults") return faults_call(req, "");
  if (path == "/sim/stats") {
    if (req.method != "GET") return error_response(405, "OperationNotAllowed", "Use GET.");
    return json_response(200, stats().dump());
  }
  if (path == "/sim/actions") {
    if (req.method != "GET") return error_response(405, "OperationNotAllowed", "Use GET.");
    // Every BMC that took an action, in one answer: what a checker reads after a run.
    std::lock_guard<std::mutex> guard{mutex};
    json all = json::object();
    for (const auto& [id, b] : bmcs)
      if (!b.actions.empty()) all[id] = actions_json(b);
    return json_response(200, json{{"bmcs", all}}.dump());
  }
  if (path == "/sim/bmcs") {
    std::lock_guard<std::mutex> guard{mutex};
    return json_response(200, json{{"count", bmcs.size()}}.dump());
  }
  const std::string prefix = "/sim/bmc/";
  if (path.rfind(prefix, 0) == 0) {
    auto rest = path.substr(prefix.size());
    auto slash = rest.find('/');
    auto id = rest.substr(0, slash);
    auto tail = slash == std::string::npos ? std::string{} : rest.substr(slash);
    if (valid_id(id) && tail == "/faults") return faults_call(req, id);
    if (valid_id(id) && tail == "/actions" && req.method == "GET") {
      std::lock_guard<std::mutex> guard{mutex};
      auto it = bmcs.find(id);
      if (it == bmcs.end())
        return error_response(404, "ResourceNotFound", "No BMC named " + id + ".", {"BMC", id});
      tick(it->second, clk->now());
      return json_response(200, json{{"id", id}, {"actions", actions_json(it->second)}}.dump());
    }
    if (valid_id(id) && tail.empty() && req.method == "GET") {
      std::lock_guard<std::mutex> guard{mutex};
      auto it = bmcs.find(id);
      if (it == bmcs.end())
        return error_response(404, "ResourceNotFound", "No BMC named " + id + ".", {"BMC", id});
      tick(it->second, clk->now());
      return json_response(200, to_json(it->second, clk->now()).dump());
    }
  }
  return error_response(404, "ResourceNotFound", "No control resource " + path + ".",
                        {"Resource", path});
}

fleet::fleet(fleet_options options, std::shared_ptr<ab::clock> clk)
    : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->clk = clk ? std::move(clk) : std::make_shared<system_clock>();
  impl_->rng.seed(impl_->options.seed != 0 ? impl_->options.seed : std::random_device{}());
  for (std::size_t n = 0; n < impl_->options.hosts; ++n) impl_->bmc(host_id(n));
  for (const auto& spec : impl_->options.faults) set_faults(spec.bmc_id, spec.faults);
  impl_->timer_thread = std::thread([this] { impl_->io.run(); });
  for (std::size_t n = 0; n < std::max<std::size_t>(1, impl_->options.callback_threads); ++n)
    impl_->callback_threads.emplace_back([this] { impl_->callback_io.run(); });
}

fleet::~fleet() {
  impl_->stopping = true;
  for (auto* ctx : {&impl_->io, &impl_->callback_io}) ctx->stop();
  impl_->timer_thread.join();
  for (auto& t : impl_->callback_threads) t.join();
}

void fleet::handle(net::http_request&& req, net::responder respond) {
  auto path = req.target.substr(0, req.target.find('?'));
  if (path.rfind("/sim/", 0) == 0) return respond(impl_->control(req, path));
  ++impl_->requests_served;
  const std::string prefix = "/bmc/";
  auto slash = path.find('/', prefix.size());
  auto id = path.substr(prefix.size(),
                        slash == std::string::npos ? std::string::npos : slash - prefix.size());
  auto tail = slash == std::string::npos ? std::string{} : path.substr(slash);
  if (path.rfind(prefix, 0) != 0 || !valid_id(id) || tail.rfind("/redfish", 0) != 0)
    return respond(
        error_response(404, "ResourceNotFound", "No resource " + path + ".", {"Resource", path}));
  if (tail == "/redfish" || tail == "/redfish/")
    return respond(json_response(200, json{{"v1", "/bmc/" + id + "/redfish/v1/"}}.dump()));
  if (tail.rfind("/redfish/v1", 0) != 0 || (tail.size() > 11 && tail[11] != '/'))
    return respond(
        error_response(404, "ResourceNotFound", "No resource " + path + ".", {"Resource", path}));
  auto [response, latency] = impl_->redfish(id, tail.substr(11), req);
  if (latency < 0) {
    // A hang: the responder is held until the limit, then the connection is dropped.
    return impl_->after(impl_->options.hang_ms, [respond = std::move(respond)] {
      respond({0, "", "", {}, true});
    });
  }
  if (latency == 0) return respond(std::move(response));
  impl_->after(latency, [respond = std::move(respond), r = std::move(response)]() mutable {
    respond(std::move(r));
  });
}

void fleet::set_faults(const std::string& id, const fault_set& faults) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (id.empty())
    impl_->fleet_faults = faults;
  else
    impl_->bmc(id).faults = faults;
}

std::size_t fleet::size() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->bmcs.size();
}

std::optional<nlohmann::json> fleet::state_of(const std::string& id) const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  auto it = impl_->bmcs.find(id);
  if (it == impl_->bmcs.end()) return std::nullopt;
  auto now = impl_->clk->now();
  impl_->tick(it->second, now);
  return to_json(it->second, now);
}

json fleet::stats() const {
  return impl_->stats();
}

json fleet::impl::stats() const {
  std::uint64_t logins = 0, logouts = 0, sessions = 0;
  std::size_t count = 0;
  {
    std::lock_guard<std::mutex> guard{mutex};
    count = bmcs.size();
    for (const auto& [id, b] : bmcs) {
      logins += b.logins;
      logouts += b.logouts;
      sessions += b.sessions.size();
    }
  }
  return {{"requests", requests_served.load()},
          {"logins", logins},
          {"logouts", logouts},
          {"sessions", sessions},
          {"bmcs", count},
          {"callbacks",
           {{"sent", callbacks_sent.load()}, {"in_flight_max", callbacks_in_flight_max.load()}}}};
}

std::string fleet::host_id(std::size_t n) const {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%04zu", n);
  return impl_->options.host_prefix + digits;
}

caf::expected<std::unique_ptr<fleet_server>> fleet_server::start(fleet_options options,
                                                                 net::server_options server) {
  std::unique_ptr<fleet_server> out{new fleet_server};
  out->fleet_ = std::make_unique<class fleet>(std::move(options));
  auto* f = out->fleet_.get();
  auto started = net::http_server::start(
      std::move(server),
      [f](net::http_request&& req, net::responder r) { f->handle(std::move(req), std::move(r)); });
  if (!started) return started.error();
  out->server_ = std::move(*started);
  return out;
}

}  // namespace ab::bmc::sim
