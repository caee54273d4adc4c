#include "metrics/work_metrics.hpp"

#include <memory>
#include <tuple>

#include "metrics/metrics.hpp"

namespace ab::metrics {
namespace {

const prometheus::Histogram::BucketBoundaries& job_buckets() {
  // Job steps take from milliseconds (a power query) to an hour (an erase).
  static const prometheus::Histogram::BucketBoundaries b{0.01, 0.05, 0.1, 0.5, 1,   5,    10,
                                                         30,   60,   120, 300, 600, 1800, 3600};
  return b;
}

std::mutex& lookup_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

job_type_metrics& job_type_metrics::of(const std::string& type) {
  auto& reg = registry();
  static auto& claims = prometheus::BuildCounter()
                            .Name("ab_claims_total")
                            .Help("Jobs claimed by this node's workers, by job type.")
                            .Register(reg);
  static auto& retries = prometheus::BuildCounter()
                             .Name("ab_job_retries_total")
                             .Help("Job attempts that failed and will be retried, by job type.")
                             .Register(reg);
  static auto& restarts = prometheus::BuildCounter()
                              .Name("ab_worker_restarts_total")
                              .Help("Workers restarted after a crash, by job type.")
                              .Register(reg);
  static auto& durations = prometheus::BuildHistogram()
                               .Name("ab_job_duration_seconds")
                               .Help(
                                   "Duration of job attempts run by this node, by job type and "
                                   "outcome (ok, failed, retried).")
                               .Register(reg);
  static std::map<std::string, std::unique_ptr<job_type_metrics>, std::less<>> known;
  std::lock_guard<std::mutex> guard{lookup_mutex()};
  auto& m = known[type];
  if (!m)
    m.reset(new job_type_metrics{
        claims.Add({{"job_type", type}}), retries.Add({{"job_type", type}}),
        restarts.Add({{"job_type", type}}),
        durations.Add({{"job_type", type}, {"outcome", "ok"}}, job_buckets()),
        durations.Add({{"job_type", type}, {"outcome", "failed"}}, job_buckets()),
        durations.Add({{"job_type", type}, {"outcome", "retried"}}, job_buckets())});
  return *m;
}

void request_counters::submitted(std::string_view action, std::string_view cls, double n) {
  static auto& family =
      prometheus::BuildCounter()
          .Name("ab_requests_submitted_total")
          .Help("Requests stored by this node's API, by action and priority class.")
          .Register(registry());
  static std::map<std::tuple<std::string, std::string>, prometheus::Counter*, std::less<>> known;
  prometheus::Counter* c = nullptr;
  {
    std::lock_guard<std::mutex> guard{lookup_mutex()};
    auto key = std::make_tuple(std::string{action}, std::string{cls});
    auto& slot = known[key];
    if (!slot) slot = &family.Add({{"action", std::string{action}}, {"class", std::string{cls}}});
    c = slot;
  }
  c->Increment(n);
}

void request_counters::finished(std::string_view action, std::string_view cls,
                                std::string_view state) {
  static auto& family = prometheus::BuildCounter()
                            .Name("ab_requests_finished_total")
                            .Help(
                                "Requests that reached a final state (succeeded, failed, "
                                "cancelled) on this node, by action and priority class.")
                            .Register(registry());
  static std::map<std::tuple<std::string, std::string, std::string>, prometheus::Counter*> known;
  prometheus::Counter* c = nullptr;
  {
    std::lock_guard<std::mutex> guard{lookup_mutex()};
    auto& slot = known[{std::string{action}, std::string{cls}, std::string{state}}];
    if (!slot)
      slot = &family.Add({{"action", std::string{action}},
                          {"class", std::string{cls}},
                          {"state", std::string{state}}});
    c = slot;
  }
  c->Increment();
}

prometheus::Counter& straggler_recoveries() {
  static auto& c = prometheus::BuildCounter()
                       .Name("ab_straggler_recoveries_total")
                       .Help(
                           "Jobs whose lease or deadline passed, taken back by this node's "
                           "recovery (retried or failed).")
                       .Register(registry())
                       .Add({});
  return c;
}

void set_build_info(const std::string& component, const std::string& version) {
  prometheus::BuildGauge()
      .Name("ab_build_info")
      .Help("1, labelled with the component and its version.")
      .Register(registry())
      .Add({{"component", component}, {"version", version}})
      .Set(1);
}

void set_node_info(const std::string& node, const std::string& site, const std::string& cluster) {
  static auto& family = prometheus::BuildGauge()
                            .Name("ab_node_info")
                            .Help("1, labelled with the node's id, site and cluster.")
                            .Register(registry());
  static prometheus::Gauge* current = nullptr;
  std::lock_guard<std::mutex> guard{lookup_mutex()};
  auto* g = &family.Add({{"node", node}, {"site", site}, {"cluster", cluster}});
  if (current && current != g) family.Remove(current);
  current = g;
  g->Set(1);
}

}  // namespace ab::metrics
