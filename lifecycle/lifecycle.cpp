#include "lifecycle/lifecycle.hpp"

#include <algorithm>
#include <map>

namespace ab::actors {

const std::vector<std::string>& lifecycle_states() {
  static const std::vector<std::string> all{"new",           "discovered",   "discovery_failed",
                                            "ready",         "provisioning", "provisioning_failed",
                                            "in_service",    "wiping",       "wipe_failed",
                                            "decommissioned"};
  return all;
}

std::optional<transition> transition_of(const std::string& action) {
  // action          allowed from                                    during / success / failure
  static const std::map<std::string, transition> table{
      {"discover",
       {{"new", "discovered", "discovery_failed"}, "", "discovered", "discovery_failed"}},
      // A first image: new inventory that discovery (and usually a wipe) made ready.
      {"build",
       {{"discovered", "ready", "provisioning_failed"},
        "provisioning",
        "in_service",
        "provisioning_failed"}},
      // A new image on a host in service (or one whose last install failed).
      {"reimage",
       {{"in_service", "provisioning_failed"},
        "provisioning",
        "in_service",
        "provisioning_failed"}},
      // Power actions keep the state; they are refused only on a decommissioned host.
      {"power_on", {{}, "", "", ""}},
      {"power_off", {{}, "", "", ""}},
      {"ipmi_reboot", {{}, "", "", ""}},
      {"wipe",
       {{"discovered", "ready", "in_service", "provisioning_failed", "wipe_failed"},
        "wiping",
        "ready",
        "wipe_failed"}},
      {"decommission", {{}, "wiping", "decommissioned", "wipe_failed"}},
  };
  auto it = table.find(action);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> refusal(const std::string& action, const std::string& state) {
  auto t = transition_of(action);
  if (!t) return std::nullopt;
  if (state == "decommissioned") return "the host is decommissioned";
  if (t->from.empty() || std::find(t->from.begin(), t->from.end(), state) != t->from.end())
    return std::nullopt;
  std::string allowed;
  for (const auto& s : t->from) allowed += (allowed.empty() ? "" : ", ") + s;
  return action + " is not allowed on a host in state " + state + " (only from " + allowed + ")";
}

}  // namespace ab::actors
