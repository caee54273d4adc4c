#include "metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "metrics/detail/process_stats.hpp"

namespace ab::metrics {

prometheus::Registry& registry() {
  // Never destroyed: components on other threads may still bump their metrics while the
  // process exits.
  static auto* r = new prometheus::Registry();
  return *r;
}

std::string text() {
  auto families = registry().Collect();
  for (auto& f : detail::process_families()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace ab::metrics
