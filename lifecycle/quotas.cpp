#include "lifecycle/quotas.hpp"

#include <array>

namespace ab::lifecycle {

bool destructive(std::string_view action) {
  static constexpr std::array<std::string_view, 5> actions{"reimage", "wipe", "decommission",
                                                           "power_off", "ipmi_reboot"};
  for (auto a : actions)
    if (a == action) return true;
  return false;
}

std::optional<std::string> confirmation_refusal(const std::string& action, std::int64_t hosts,
                                                std::optional<std::int64_t> confirmed,
                                                std::int64_t confirm_above) {
  if (!destructive(action) || hosts <= confirm_above) return std::nullopt;
  auto n = std::to_string(hosts);
  if (!confirmed)
    return action + " of " + n + " hosts is above the confirmation threshold of " +
           std::to_string(confirm_above) + " hosts: send \"confirm_hosts\": " + n +
           " to confirm the count";
  if (*confirmed != hosts)
    return "\"confirm_hosts\" is " + std::to_string(*confirmed) + " but the call names " + n +
           " hosts: check the selection, then send \"confirm_hosts\": " + n;
  return std::nullopt;
}

}  // namespace ab::lifecycle
