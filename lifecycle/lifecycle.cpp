#include "lifecycle/lifecycle.hpp"

#include <array>
#include <map>
#include <utility>

namespace ab::lifecycle {

namespace {

constexpr std::array<std::pair<state, std::string_view>, 10> names{{
    {state::new_, "new"},
    {state::discovered, "discovered"},
    {state::discovery_failed, "discovery_failed"},
    {state::ready, "ready"},
    {state::provisioning, "provisioning"},
    {state::provisioning_failed, "provisioning_failed"},
    {state::in_service, "in_service"},
    {state::wiping, "wiping"},
    {state::wipe_failed, "wipe_failed"},
    {state::decommissioned, "decommissioned"},
}};

/// Every state but `decommissioned`: where power actions and a decommission are allowed.
std::vector<state> all_but_decommissioned() {
  std::vector<state> out;
  for (auto s : every_state())
    if (s != state::decommissioned) out.push_back(s);
  return out;
}

}  // namespace

std::string_view to_string(state s) {
  for (const auto& [value, name] : names)
    if (value == s) return name;
  return "unknown";
}

std::optional<state> state_named(std::string_view name) {
  for (const auto& [value, n] : names)
    if (n == name) return value;
  return std::nullopt;
}

const std::vector<state>& every_state() {
  static const std::vector<state> all = [] {
    std::vector<state> out;
    for (const auto& [value, name] : names) out.push_back(value);
    return out;
  }();
  return all;
}

const transition* transition_of(const std::string& action) {
  using enum state;
  static const auto any = all_but_decommissioned();
  // action          allowed from                                    during / success / failure
  static const std::map<std::string, transition> table{
      {"discover", {{new_, discovered, discovery_failed}, {}, discovered, discovery_failed}},
      // A first image: new inventory that discovery (and usually a wipe) made ready.
      {"build",
       {{discovered, ready, provisioning_failed}, provisioning, in_service, provisioning_failed}},
      // A new image on a host in service (or one whose last install failed).
      {"reimage",
       {{in_service, provisioning_failed}, provisioning, in_service, provisioning_failed}},
      // Power actions keep the state; they are refused only on a decommissioned host.
      {"power_on", {any, {}, {}, {}}},
      {"power_off", {any, {}, {}, {}}},
      {"ipmi_reboot", {any, {}, {}, {}}},
      {"wipe",
       {{discovered, ready, in_service, provisioning_failed, wipe_failed},
        wiping,
        ready,
        wipe_failed}},
      {"decommission", {any, wiping, decommissioned, wipe_failed}},
  };
  auto it = table.find(action);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace ab::lifecycle
