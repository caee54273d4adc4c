#include "metrics/router_metrics.hpp"

#include <algorithm>
#include <tuple>

#include "metrics/http_metrics.hpp"
#include "metrics/metrics.hpp"

namespace ab::metrics {

void router_site_series::proxied(int status, double seconds) {
  int c = status >= 200 && status < 600 ? status / 100 - 2 : 3;
  by_class[c]->Increment();
  duration->Observe(seconds);
}

router_metrics::router_metrics()
    : proxied_(prometheus::BuildCounter()
                   .Name("ab_router_proxied_total")
                   .Help("Calls the router proxied to a node, by site and the class of the "
                         "answer's status (2xx..5xx; no answer counts as 5xx).")
                   .Register(registry())),
      durations_(prometheus::BuildHistogram()
                     .Name("ab_router_proxy_duration_seconds")
                     .Help("Duration of a proxied call's exchange with a node, by site.")
                     .Register(registry())),
      failovers_(prometheus::BuildCounter()
                     .Name("ab_router_failovers_total")
                     .Help("Calls sent to another node of their site because a node could not be "
                           "reached, by site.")
                     .Register(registry())),
      ages_(prometheus::BuildGauge()
                .Name("ab_router_node_heartbeat_age_seconds")
                .Help("Time since the router last accepted a heartbeat of the node.")
                .Register(registry())),
      nodes_(prometheus::BuildGauge()
                 .Name("ab_router_nodes")
                 .Help("Nodes in the router's table, by site, cluster and state (fresh, stale, "
                       "set_aside).")
                 .Register(registry())) {
  auto& hb = prometheus::BuildCounter()
                 .Name("ab_router_heartbeats_total")
                 .Help(
                     "Heartbeats received, by outcome (accepted, bad_signature, stale, replay, "
                     "invalid).")
                 .Register(registry());
  const char* names[] = {"accepted", "bad_signature", "stale", "replay", "invalid"};
  for (int i = 0; i < 5; ++i) heartbeats_[i] = &hb.Add({{"outcome", names[i]}});
}

router_site_series& router_metrics::site(const std::string& site) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = sites_.find(site);
  if (it != sites_.end()) return *it->second;
  auto s = std::make_unique<router_site_series>();
  const char* classes[] = {"2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 4; ++i)
    s->by_class[i] = &proxied_.Add({{"site", site}, {"status_class", classes[i]}});
  s->duration = &durations_.Add({{"site", site}}, latency_buckets());
  s->failovers = &failovers_.Add({{"site", site}});
  return *sites_.emplace(site, std::move(s)).first->second;
}

void router_metrics::publish_nodes(const std::vector<router_node_row>& nodes) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<prometheus::Gauge*> ages;
  std::map<std::tuple<std::string, std::string, std::string>, int> counts;
  for (const auto& n : nodes) {
    auto& g = ages_.Add({{"site", n.site}, {"cluster", n.cluster}, {"node", n.node}});
    g.Set(n.heartbeat_age_seconds);
    ages.push_back(&g);
    // Every state of a known cluster shows, 0 when no node is in it.
    for (const char* state : {"fresh", "stale", "set_aside", "draining", "incompatible"})
      counts[{n.site, n.cluster, state}] += n.state == state ? 1 : 0;
  }
  for (auto* g : age_series_)
    if (std::find(ages.begin(), ages.end(), g) == ages.end()) ages_.Remove(g);
  age_series_ = std::move(ages);
  std::vector<prometheus::Gauge*> series;
  for (const auto& [key, n] : counts) {
    auto& g = nodes_.Add(
        {{"site", std::get<0>(key)}, {"cluster", std::get<1>(key)}, {"state", std::get<2>(key)}});
    g.Set(n);
    series.push_back(&g);
  }
  for (auto* g : node_series_)
    if (std::find(series.begin(), series.end(), g) == series.end()) nodes_.Remove(g);
  node_series_ = std::move(series);
}

}  // namespace ab::metrics
