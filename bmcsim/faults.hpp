#pragma once

#include <optional>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

namespace ab::bmc::sim {

/// The misbehaviour a simulated BMC shows; all off by default.
struct fault_set {
  /// Share of requests, 0 to 1, answered 503 (with `Retry-After`) or 500 at random.
  double error_rate = 0;
  /// Added to every answer, in milliseconds (not time-scaled: it is what a client sees).
  int latency_ms = 0;
  /// Never answers: the connection is held until the hang limit, then dropped.
  bool hang = false;
  /// Closes the connection without answering.
  bool drop = false;
  /// Answers 200 with a body that is not JSON.
  bool garbage = false;
  /// Refuses every credential with 401.
  bool auth_fail = false;
  /// The simulated installer calls back with status `failed`.
  bool install_fail = false;
  /// The simulated installer never calls back.
  bool install_lost = false;
};

/// Faults as JSON, with every field.
nlohmann::json to_json(const fault_set& f);

/// Applies the fields present in `j` (an object) to `base`; an unknown field or a wrong type is
/// an `invalid_argument` error naming it.
caf::expected<fault_set> apply_json(fault_set base, const nlohmann::json& j);

/// One `--fault` option: `[ID:]key=value,...`, keys as in `fault_set`; no ID means the fleet.
struct fault_spec {
  /// The BMC the faults apply to; empty for every BMC.
  std::string bmc_id;
  /// The faults.
  fault_set faults;
};

/// Parses a `--fault` value such as `sim-0001:hang=true` or `error_rate=0.2,latency_ms=50`.
caf::expected<fault_spec> parse_fault_spec(const std::string& text);

}  // namespace ab::bmc::sim
