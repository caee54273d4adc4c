#include "bmcsim/faults.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace ab::bmc::sim {

namespace {

/// `value` as JSON: a number or a boolean when it reads as one, else a string.
nlohmann::json scalar_of(const std::string& value) {
  if (value == "true" || value == "false") return value == "true";
  auto parsed = nlohmann::json::parse(value, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_number()) return parsed;
  return value;
}

/// Sets one field of `f` from `v`; false if the key is unknown or `v` has the wrong type.
bool set_field(fault_set& f, const std::string& key, const nlohmann::json& v) {
  if (key == "error_rate" && v.is_number()) {
    f.error_rate = v.get<double>();
    return f.error_rate >= 0 && f.error_rate <= 1;
  }
  if (key == "latency_ms" && v.is_number_integer()) {
    f.latency_ms = v.get<int>();
    return f.latency_ms >= 0;
  }
  bool* flag = key == "hang"           ? &f.hang
               : key == "drop"         ? &f.drop
               : key == "garbage"      ? &f.garbage
               : key == "auth_fail"    ? &f.auth_fail
               : key == "install_fail" ? &f.install_fail
               : key == "install_lost" ? &f.install_lost
                                       : nullptr;
  if (flag == nullptr || !v.is_boolean()) return false;
  *flag = v.get<bool>();
  return true;
}

}  // namespace

nlohmann::json to_json(const fault_set& f) {
  return {{"error_rate", f.error_rate},
          {"latency_ms", f.latency_ms},
          {"hang", f.hang},
          {"drop", f.drop},
          {"garbage", f.garbage},
          {"auth_fail", f.auth_fail},
          {"install_fail", f.install_fail},
          {"install_lost", f.install_lost}};
}

caf::expected<fault_set> apply_json(fault_set base, const nlohmann::json& j) {
  if (!j.is_object()) return make_error(errc::invalid_argument, "faults must be a JSON object");
  for (const auto& [key, value] : j.items())
    if (!set_field(base, key, value))
      return make_error(errc::invalid_argument,
                        "fault '" + key + "': unknown, or not a valid value: " + value.dump());
  return base;
}

caf::expected<fault_spec> parse_fault_spec(const std::string& text) {
  fault_spec spec;
  auto rest = text;
  auto colon = rest.find(':');
  if (colon != std::string::npos) {
    spec.bmc_id = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  }
  nlohmann::json fields = nlohmann::json::object();
  for (std::size_t start = 0; start <= rest.size();) {
    auto end = rest.find(',', start);
    if (end == std::string::npos) end = rest.size();
    auto item = rest.substr(start, end - start);
    auto eq = item.find('=');
    if (eq == std::string::npos)
      return make_error(errc::invalid_argument,
                        "--fault '" + text + "': expected key=value, got '" + item + "'");
    fields[item.substr(0, eq)] = scalar_of(item.substr(eq + 1));
    start = end + 1;
  }
  auto faults = apply_json({}, fields);
  if (!faults)
    return make_error(errc::invalid_argument,
                      "--fault '" + text + "': " + message_of(faults.error()));
  spec.faults = *faults;
  return spec;
}

}  // namespace ab::bmc::sim
