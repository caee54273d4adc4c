#include "metrics/bmc_metrics.hpp"

#include "metrics/http_metrics.hpp"
#include "metrics/metrics.hpp"

namespace ab::metrics {
namespace {

constexpr const char* operation_names[] = {"power",     "set_power",      "set_boot",
                                           "set_media", "read_inventory", "erase_disks"};
constexpr const char* outcome_names[] = {"ok", "failed", "unavailable", "refused"};

}  // namespace

bmc_metrics::bmc_metrics(const std::string& driver) {
  auto& calls = prometheus::BuildCounter()
                    .Name("ab_bmc_calls_total")
                    .Help(
                        "Calls to BMCs, by driver, operation and outcome (ok, failed, "
                        "unavailable, refused by the guard).")
                    .Register(registry());
  auto& durations = prometheus::BuildHistogram()
                        .Name("ab_bmc_call_duration_seconds")
                        .Help("Duration of the BMC calls made, by driver and operation.")
                        .Register(registry());
  // An erase or a slow BMC takes minutes.
  auto buckets = latency_buckets();
  buckets.insert(buckets.end(), {60, 300, 1800});
  for (int op = 0; op < operations; ++op) {
    for (int how = 0; how < outcomes; ++how)
      calls_[op][how] = &calls.Add({{"driver", driver},
                                    {"operation", operation_names[op]},
                                    {"outcome", outcome_names[how]}});
    durations_[op] =
        &durations.Add({{"driver", driver}, {"operation", operation_names[op]}}, buckets);
  }
}

void bmc_metrics::call(bmc_operation op, bmc_outcome how, double seconds) {
  auto o = static_cast<int>(op);
  calls_[o][static_cast<int>(how)]->Increment();
  if (how != bmc_outcome::refused) durations_[o]->Observe(seconds);
}

prometheus::Gauge& bmc_metrics::breakers_open() {
  static auto& g = prometheus::BuildGauge()
                       .Name("ab_bmc_breakers_open")
                       .Help("BMCs whose circuit breaker is open (or half-open) now.")
                       .Register(registry())
                       .Add({});
  return g;
}

prometheus::Counter& bmc_metrics::breaker_opened() {
  static auto& c = prometheus::BuildCounter()
                       .Name("ab_bmc_breaker_opened_total")
                       .Help("Times a BMC's circuit breaker opened.")
                       .Register(registry())
                       .Add({});
  return c;
}

}  // namespace ab::metrics
