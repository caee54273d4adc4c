#pragma once

// The Redfish resources of one simulated BMC, shaped like the DMTF mockups public-rackmount1
// and public-localstorage. `base` is the BMC's service root without the trailing slash, e.g.
// `/bmc/h1/redfish/v1`; every `@odata.id` starts with it.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmcsim/bmc_state.hpp"

namespace ab::bmc::sim {

/// A Redfish error body: `error.code`, `error.message` and one `@Message.ExtendedInfo` entry.
nlohmann::json redfish_error(const std::string& message_id, const std::string& message,
                             const std::vector<std::string>& args = {});

/// `{"@odata.id": id}`.
nlohmann::json link(const std::string& id);

/// A resource collection at `id` of `type` (e.g. `ComputerSystemCollection`) with `members`.
nlohmann::json collection(const std::string& id, const std::string& type,
                          const std::vector<std::string>& members);

/// The ServiceRoot.
nlohmann::json service_root(const std::string& base, const bmc_state& b);

/// The ComputerSystem `Systems/437XR1138R2`.
nlohmann::json computer_system(const std::string& base, const bmc_state& b);

/// Processor `CPU<n>` (n = 1 or 2).
nlohmann::json processor(const std::string& base, int n);

/// EthernetInterface `NIC<n>` (n = 1 or 2) with the BMC's MAC.
nlohmann::json ethernet_interface(const std::string& base, const bmc_state& b, int n);

/// The Storage `Storage/1` with its drives.
nlohmann::json storage(const std::string& base);

/// Drive `Disk<n>` with its `#Drive.SecureErase` action.
nlohmann::json drive(const std::string& base, const bmc_state& b, int n, time_ms now);

/// The Manager `Managers/BMC`.
nlohmann::json manager(const std::string& base, const bmc_state& b);

/// The virtual CD `Managers/BMC/VirtualMedia/CD1`.
nlohmann::json virtual_media(const std::string& base, const bmc_state& b);

/// The Chassis `Chassis/1U`.
nlohmann::json chassis(const std::string& base, const bmc_state& b);

/// The SessionService.
nlohmann::json session_service(const std::string& base);

/// Session `id` of `user`.
nlohmann::json session(const std::string& base, const std::string& id, const std::string& user);

/// The TaskService.
nlohmann::json task_service(const std::string& base);

/// The Task of secure erase `t` at `now`.
nlohmann::json task(const std::string& base, const erase_task& t, time_ms now);

}  // namespace ab::bmc::sim
