#include "bmc/detail/ipmitool_output.hpp"

#include <array>
#include <sstream>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ab::bmc::detail {

namespace {

/// Reasons that mean the credentials were refused, as ipmitool -v prints them.
constexpr std::array<std::string_view, 5> auth_reasons{
    "RAKP 2 HMAC is invalid", "unauthorized name", "RAKP 2 message indicates an error",
    "invalid authentication algorithm", "Invalid user name"};

/// Reasons that mean the BMC did not answer or was busy.
constexpr std::array<std::string_view, 6> transient_reasons{"Get Auth Capabilities error",
                                                            "No response",
                                                            "insufficient resources for session",
                                                            "Node busy",
                                                            "Timeout",
                                                            "Unable to establish"};

/// Lines ipmitool -v prints on every run, which never explain a failure.
constexpr std::array<std::string_view, 4> chatter{
    "Loading IANA PEN Registry", "Running Get VSO Capabilities", "Discovered IPMB address",
    "Invalid completion code received: Invalid command"};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    auto first = line.find_first_not_of(" \t\r>");
    auto last = line.find_last_not_of(" \t\r");
    if (first != std::string::npos) lines.push_back(line.substr(first, last - first + 1));
  }
  return lines;
}

template <std::size_t N>
bool mentions(std::string_view line, const std::array<std::string_view, N>& needles) {
  for (auto needle : needles)
    if (line.find(needle) != std::string_view::npos) return true;
  return false;
}

/// The value of a `Name : value` line of `fru print` whose name is `name`, or "".
std::string field(const std::vector<std::string>& lines, std::string_view name) {
  for (const auto& line : lines) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key != name) continue;
    auto value = line.find_first_not_of(" \t", colon + 1);
    return value == std::string::npos ? std::string{} : line.substr(value);
  }
  return {};
}

/// The first non-empty value among the fields `names`.
std::string first_field(const std::vector<std::string>& lines,
                        std::initializer_list<std::string_view> names) {
  for (auto name : names)
    if (auto value = field(lines, name); !value.empty()) return value;
  return {};
}

}  // namespace

ipmitool_failure classify_failure(const std::string& err) {
  auto lines = lines_of(err);
  for (const auto& line : lines)
    if (mentions(line, auth_reasons)) return ipmitool_failure::auth;
  for (const auto& line : lines)
    if (mentions(line, transient_reasons)) return ipmitool_failure::transient;
  return ipmitool_failure::other;
}

std::string failure_reason(const std::string& err) {
  auto lines = lines_of(err);
  for (const auto& line : lines)
    if (mentions(line, auth_reasons)) return line;
  // The line before "Unable to establish …" says why the session failed, when there is one.
  std::string last;
  for (const auto& line : lines) {
    if (mentions(line, chatter)) continue;
    if (line.find("Unable to establish") != std::string::npos && !last.empty()) return last;
    last = line;
  }
  return last.empty() ? "no output" : last;
}

caf::expected<power_state> parse_power_status(const std::string& out) {
  for (const auto& line : lines_of(out)) {
    if (line == "Chassis Power is on") return power_state::on;
    if (line == "Chassis Power is off") return power_state::off;
  }
  return make_error(errc::unavailable, "unexpected answer to 'chassis power status': " + out);
}

inventory parse_fru(const std::string& out) {
  auto lines = lines_of(out);
  inventory result;
  result.manufacturer = first_field(lines, {"Product Manufacturer", "Board Mfg"});
  result.model = first_field(lines, {"Product Name", "Board Product", "Product Part Number"});
  result.serial = first_field(lines, {"Product Serial", "Board Serial", "Chassis Serial"});
  return result;
}

}  // namespace ab::bmc::detail
