#pragma once

// Finding resources by links from the service root. Internal to `ab_bmc`.

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "bmc/detail/redfish_client.hpp"

namespace ab::bmc::detail {

/// A resource and the path it was read from.
struct resource {
  std::string path;
  nlohmann::json body;
};

/// The first member of the service root's collection `key` (`Systems`, `Managers`); its path
/// is remembered in the client's session, so later calls read it at once.
caf::expected<resource> first_member(redfish_client& c, const std::string& key);

/// Every member of the collection linked from `owner[key]`; none when the link is absent.
caf::expected<std::vector<resource>> linked_members(redfish_client& c, const nlohmann::json& owner,
                                                    const std::string& key);

/// The `target` of `resource.Actions[action]`, or "" when not offered.
std::string action_target(const nlohmann::json& resource, const std::string& action);

/// The first VirtualMedia member able to hold a CD or DVD, under the System or the Manager
/// (remembered in the session); `errc::invalid_argument` when there is none (defined with the
/// driver's media calls).
caf::expected<resource> find_cd(redfish_client& c);

/// Follows a task monitor (`location`) until it stops answering 202 or its `TaskState` is
/// final; an `Exception`/`Killed`/`Cancelled` task is an error naming its messages.
caf::error wait_for_task(redfish_client& c, const std::string& location,
                         std::chrono::milliseconds interval, std::chrono::milliseconds limit);

}  // namespace ab::bmc::detail
