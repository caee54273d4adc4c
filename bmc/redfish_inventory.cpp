// The Redfish driver's read-mostly capabilities: inventory and disk erase.

#include "bmc/detail/redfish_client.hpp"
#include "bmc/detail/redfish_navigation.hpp"
#include "bmc/detail/redfish_sessions.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/error.hpp"

namespace ab::bmc {

using detail::redfish_client;
using detail::text;
using nlohmann::json;

namespace {

std::int64_t number(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return static_cast<std::int64_t>(j[key].get<double>());
}

const json& member(const json& j, const std::string& key) {
  static const json none;
  return j.is_object() && j.contains(key) ? j[key] : none;
}

void read_system(const json& s, inventory& inv) {
  inv.manufacturer = text(s, "Manufacturer");
  inv.model = text(s, "Model");
  inv.serial = text(s, "SerialNumber");
  inv.uuid = text(s, "UUID");
  inv.bios_version = text(s, "BiosVersion");
  inv.cpu_count = static_cast<int>(number(member(s, "ProcessorSummary"), "Count"));
  inv.memory_mib = number(member(s, "MemorySummary"), "TotalSystemMemoryGiB") * 1024;
}

inventory::drive drive_of(const json& d) {
  return {text(d, "Id"), text(d, "Model"), text(d, "SerialNumber"), text(d, "MediaType"),
          number(d, "CapacityBytes")};
}

/// The drives linked from every Storage member, as resources.
caf::expected<std::vector<detail::resource>> storage_drives(redfish_client& c, const json& system) {
  std::vector<detail::resource> out;
  auto storages = detail::linked_members(c, system, "Storage");
  if (!storages) return std::move(storages.error());
  for (const auto& s : *storages) {
    const auto& links = member(s.body, "Drives");
    if (!links.is_array()) continue;
    for (const auto& l : links) {
      auto id = text(l, "@odata.id");
      if (id.empty()) continue;
      auto body = c.get(id);
      if (!body) return std::move(body.error());
      out.push_back({id, std::move(*body)});
    }
  }
  return out;
}

/// The present devices of every SimpleStorage member (they have no resources of their own).
caf::expected<std::vector<inventory::drive>> simple_drives(redfish_client& c, const json& system) {
  std::vector<inventory::drive> out;
  auto storages = detail::linked_members(c, system, "SimpleStorage");
  if (!storages) return std::move(storages.error());
  for (const auto& s : *storages) {
    const auto& devices = member(s.body, "Devices");
    if (!devices.is_array()) continue;
    for (const auto& d : devices) {
      if (text(member(d, "Status"), "State") == "Absent") continue;
      out.push_back({text(d, "Name"), text(d, "Model"), "", "", number(d, "CapacityBytes")});
    }
  }
  return out;
}

caf::error read_parts(redfish_client& c, const json& system, inventory& inv) {
  auto cpus = detail::linked_members(c, system, "Processors");
  if (!cpus) return std::move(cpus.error());
  for (const auto& p : *cpus) {
    auto type = text(p.body, "ProcessorType");
    if ((type.empty() || type == "CPU") && !text(p.body, "Model").empty())
      inv.cpu_models.push_back(text(p.body, "Model"));
  }
  auto nics = detail::linked_members(c, system, "EthernetInterfaces");
  if (!nics) return std::move(nics.error());
  for (const auto& n : *nics)
    if (!text(n.body, "MACAddress").empty())
      inv.nics.push_back({text(n.body, "Id"), text(n.body, "MACAddress")});
  return {};
}

caf::error read_drives(redfish_client& c, const json& system, inventory& inv) {
  auto drives = storage_drives(c, system);
  if (!drives) return std::move(drives.error());
  for (const auto& d : *drives) {
    inv.drives.push_back(drive_of(d.body));
    // `erase_disks` fails a wipe on a drive without the action: the BMC lacks the erase.
    if (detail::action_target(d.body, "#Drive.SecureErase").empty())
      inv.lacks.add(capability::erase);
  }
  if (!inv.drives.empty()) return {};
  auto simple = simple_drives(c, system);
  if (!simple) return std::move(simple.error());
  inv.drives = std::move(*simple);
  // SimpleStorage devices have no erase action at all.
  if (!inv.drives.empty()) inv.lacks.add(capability::erase);
  return {};
}

caf::expected<inventory> inventory_of(redfish_client& c) {
  auto system = detail::first_member(c, "Systems");
  if (!system) return std::move(system.error());
  inventory inv;
  read_system(system->body, inv);
  if (auto err = read_parts(c, system->body, inv)) return err;
  if (auto err = read_drives(c, system->body, inv)) return err;
  // No virtual CD (none offered, or links that lead nowhere) is a finding; an outage is not.
  auto cd = detail::find_cd(c);
  if (!cd && is(cd.error(), errc::unavailable)) return std::move(cd.error());
  if (!cd) inv.lacks.add(capability::media);
  if (auto manager = detail::first_member(c, "Managers"))
    inv.bmc_firmware = text(manager->body, "FirmwareVersion");
  return inv;
}

caf::expected<std::vector<erase_result>> erase_all(redfish_client& c, const redfish_options& o) {
  auto system = detail::first_member(c, "Systems");
  if (!system) return std::move(system.error());
  auto drives = storage_drives(c, system->body);
  if (!drives) return std::move(drives.error());
  std::vector<erase_result> out;
  if (drives->empty()) {
    // Devices only SimpleStorage knows cannot be erased through Redfish: say so, per device.
    auto simple = simple_drives(c, system->body);
    if (!simple) return std::move(simple.error());
    for (const auto& d : *simple)
      out.push_back({d.id, "none", false, "a SimpleStorage device offers no erase action"});
  }
  for (const auto& d : *drives) {
    erase_result r{text(d.body, "Id"), "SecureErase", false, ""};
    auto action = detail::action_target(d.body, "#Drive.SecureErase");
    if (action.empty()) {
      r.method = "none";
      r.detail = "the BMC offers no Drive.SecureErase";
      out.push_back(r);
      continue;
    }
    auto a = c.send("POST", action, json::object());
    caf::error err = a ? caf::error{} : a.error();
    if (!err && a->status == 202 && !a->location.empty())
      err = detail::wait_for_task(c, a->location, o.task_poll, o.task_timeout);
    r.ok = !err;
    r.detail = err ? message_of(err) : "completed";
    r.transient = is(err, errc::unavailable);
    out.push_back(r);
  }
  return out;
}

}  // namespace

caf::expected<inventory> redfish_driver::read_inventory(const target& t) {
  return detail::converse(*sessions_, t, policy(),
                          [](redfish_client& c) { return inventory_of(c); });
}

caf::expected<std::vector<erase_result>> redfish_driver::erase_disks(const target& t) {
  return detail::converse(*sessions_, t, policy(),
                          [&](redfish_client& c) { return erase_all(c, options_); });
}

}  // namespace ab::bmc
