#pragma once

// Reads one sample of the Prometheus text format, for the metrics tests.

#include <string>

namespace ab::testing {

/// The value of the sample line `series value` (series with its labels as the serializer
/// writes them) in `text`; -1 when there is none.
inline double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

/// `sample`, 0 when the series does not exist yet (a counter never bumped).
inline double count_of(const std::string& text, const std::string& series) {
  auto v = sample(text, series);
  return v < 0 ? 0 : v;
}

}  // namespace ab::testing
