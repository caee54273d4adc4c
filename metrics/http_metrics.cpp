#include "metrics/http_metrics.hpp"

#include <array>

#include "metrics/metrics.hpp"

namespace ab::metrics {
namespace {

constexpr std::array<const char*, 7> methods{"GET",   "HEAD",   "POST",   "PUT",
                                             "PATCH", "DELETE", "OPTIONS"};

prometheus::Family<prometheus::Counter>& requests_family() {
  return prometheus::BuildCounter()
      .Name("ab_http_requests_total")
      .Help("HTTP requests answered, by server, route pattern, method and status.")
      .Register(registry());
}

}  // namespace

const std::vector<double>& latency_buckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10,   30};
  return buckets;
}

http_metrics::http_metrics(const std::string& server, const std::vector<std::string>& routes)
    : server_(server), requests_(requests_family()) {
  auto& durations = prometheus::BuildHistogram()
                        .Name("ab_http_request_duration_seconds")
                        .Help(
                            "Time from a request's arrival to its answer, by server, route "
                            "pattern and method.")
                        .Register(registry());
  auto add = [&](std::string method, std::string pattern) {
    auto* h = &durations.Add({{"server", server}, {"route", pattern}, {"method", method}},
                             latency_buckets());
    routes_.push_back({std::move(pattern), std::move(method), h});
  };
  for (const auto& r : routes) {
    auto space = r.find(' ');
    add(r.substr(0, space), space == std::string::npos ? r : r.substr(space + 1));
  }
  for (const auto* m : methods) add(m, "other");
  add("other", "other");
  by_status_ = std::make_unique<std::atomic<prometheus::Counter*>[]>(routes_.size() * statuses);
  for (std::size_t i = 0; i < routes_.size() * statuses; ++i) by_status_[i] = nullptr;
  auto& rejected = prometheus::BuildCounter()
                       .Name("ab_http_rejected_total")
                       .Help(
                           "Requests answered 429, by server and reason (capacity: calls in "
                           "flight; rate: a rate limit; client: the client's failures).")
                       .Register(registry());
  rejected_[0] = &rejected.Add({{"server", server}, {"reason", "capacity"}});
  rejected_[1] = &rejected.Add({{"server", server}, {"reason", "rate"}});
  rejected_[2] = &rejected.Add({{"server", server}, {"reason", "client"}});
  open_ = &prometheus::BuildGauge()
               .Name("ab_http_open_connections")
               .Help("Connections open now, by server.")
               .Register(registry())
               .Add({{"server", server}});
}

std::size_t http_metrics::other(std::string_view method) const {
  auto first = routes_.size() - methods.size() - 1;
  for (std::size_t i = 0; i < methods.size(); ++i)
    if (method == methods[i]) return first + i;
  return routes_.size() - 1;
}

namespace {

bool matches(std::string_view pattern, std::string_view path) {
  std::size_t p = 0, q = 0;
  while (p < pattern.size() && q < path.size()) {
    if (pattern[p] == '{') {
      auto close = pattern.find('}', p);
      auto slash = path.find('/', q);
      auto end = slash == std::string_view::npos ? path.size() : slash;
      if (end == q || close == std::string_view::npos) return false;
      p = close + 1;
      q = end;
    } else if (pattern[p++] != path[q++]) {
      return false;
    }
  }
  return p == pattern.size() && q == path.size();
}

}  // namespace

std::size_t http_metrics::route_of(std::string_view method, std::string_view path) const {
  auto first_other = routes_.size() - methods.size() - 1;
  for (std::size_t i = 0; i < first_other; ++i)
    if (routes_[i].method == method && matches(routes_[i].pattern, path)) return i;
  return other(method);
}

prometheus::Counter& http_metrics::counter(std::size_t index, int status) {
  if (status < first_status || status >= first_status + statuses) status = 500;
  auto& slot = by_status_[index * statuses + static_cast<std::size_t>(status - first_status)];
  if (auto* c = slot.load(std::memory_order_acquire)) return *c;
  // First answer of this route with this status: the series is made once.
  std::lock_guard<std::mutex> guard{mutex_};
  auto* c = &requests_.Add({{"server", server_},
                            {"route", routes_[index].pattern},
                            {"method", routes_[index].method},
                            {"status", std::to_string(status)}});
  slot.store(c, std::memory_order_release);
  return *c;
}

void http_metrics::observe(std::size_t index, int status, double seconds) {
  if (index >= routes_.size()) index = routes_.size() - 1;
  counter(index, status).Increment();
  routes_[index].duration->Observe(seconds);
}

void http_metrics::reject(reject_reason why) {
  rejected_[static_cast<int>(why)]->Increment();
}

}  // namespace ab::metrics
