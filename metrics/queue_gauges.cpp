#include "metrics/queue_gauges.hpp"

#include <mutex>
#include <set>

#include <prometheus/gauge.h>

#include "metrics/metrics.hpp"

namespace ab::metrics {
namespace {

using prometheus::Gauge;

struct queue_families {
  prometheus::Family<Gauge>& depth = prometheus::BuildGauge()
                                         .Name("ab_queue_depth")
                                         .Help(
                                             "Ready jobs waiting for a worker, by site, cluster "
                                             "(that serves the action), job type and class.")
                                         .Register(registry());
  prometheus::Family<Gauge>& wait = prometheus::BuildGauge()
                                        .Name("ab_queue_oldest_wait_seconds")
                                        .Help(
                                            "How long the oldest ready job has waited, by site, "
                                            "cluster, job type and class.")
                                        .Register(registry());
  prometheus::Family<Gauge>& active = prometheus::BuildGauge()
                                          .Name("ab_requests_active")
                                          .Help("Queued or running requests, by site and action.")
                                          .Register(registry());
  prometheus::Family<Gauge>& stuck = prometheus::BuildGauge()
                                         .Name("ab_requests_stuck")
                                         .Help(
                                             "Running requests without progress for longer "
                                             "than the node's stuck_after_ms, by site.")
                                         .Register(registry());
  std::mutex mutex;
  std::set<Gauge*> seen;
};

queue_families& families() {
  static queue_families f;
  return f;
}

}  // namespace

void publish_queue(const std::string& site, const std::vector<queue_gauge_row>& queues,
                   const std::vector<active_gauge_row>& active, std::int64_t stuck) {
  auto& f = families();
  std::lock_guard<std::mutex> guard{f.mutex};
  std::set<Gauge*> now;
  auto set = [&](Gauge& g, double v) {
    g.Set(v);
    now.insert(&g);
  };
  for (const auto& q : queues) {
    prometheus::Labels l{{"site", site},
                         {"cluster", q.cluster},
                         {"job_type", q.job_type},
                         {"class", q.priority_class}};
    set(f.depth.Add(l), static_cast<double>(q.depth));
    set(f.wait.Add(l), q.oldest_wait_seconds);
  }
  for (const auto& a : active)
    set(f.active.Add({{"site", site}, {"action", a.action}}), static_cast<double>(a.count));
  set(f.stuck.Add({{"site", site}}), static_cast<double>(stuck));
  for (auto* g : f.seen)
    if (!now.count(g)) g->Set(0);
  f.seen.insert(now.begin(), now.end());
}

}  // namespace ab::metrics
