#include "bmc/driver.hpp"

namespace ab::bmc {

void to_json(nlohmann::json& j, const inventory& inv) {
  nlohmann::json nics = nlohmann::json::array();
  for (const auto& n : inv.nics) nics.push_back({{"id", n.id}, {"mac", n.mac}});
  nlohmann::json drives = nlohmann::json::array();
  for (const auto& d : inv.drives)
    drives.push_back({{"id", d.id},
                      {"model", d.model},
                      {"serial", d.serial},
                      {"media_type", d.media_type},
                      {"capacity_bytes", d.capacity_bytes}});
  j = {{"manufacturer", inv.manufacturer},
       {"model", inv.model},
       {"serial", inv.serial},
       {"uuid", inv.uuid},
       {"bios_version", inv.bios_version},
       {"bmc_firmware", inv.bmc_firmware},
       {"cpu_count", inv.cpu_count},
       {"cpu_models", inv.cpu_models},
       {"memory_mib", inv.memory_mib},
       {"nics", nics},
       {"drives", drives},
       {"bmc_lacks", inv.lacks.names()}};
}

capability_set lacks_in_facts(const std::string& facts) {
  capability_set out;
  auto j = nlohmann::json::parse(facts, nullptr, false);
  if (!j.is_object() || !j.contains("bmc_lacks") || !j["bmc_lacks"].is_array()) return out;
  for (const auto& name : j["bmc_lacks"])
    if (name.is_string())
      if (auto c = capability_named(name.get<std::string>())) out.add(*c);
  return out;
}

capability_set driver::capabilities() {
  capability_set out;
  if (power_interface()) out.add(capability::power);
  if (boot_interface()) out.add(capability::boot);
  if (media_interface()) out.add(capability::media);
  if (inventory_interface()) out.add(capability::inventory);
  if (erase_interface()) out.add(capability::erase);
  return out;
}

void to_json(nlohmann::json& j, const erase_result& r) {
  j = {{"drive", r.drive}, {"method", r.method}, {"ok", r.ok}, {"detail", r.detail}};
}

std::string to_string(power_state s) {
  switch (s) {
    case power_state::on:
      return "On";
    case power_state::off:
      return "Off";
    case power_state::powering_on:
      return "PoweringOn";
    case power_state::powering_off:
      return "PoweringOff";
    case power_state::unknown:
      break;
  }
  return "Unknown";
}

std::string to_string(power_action a) {
  switch (a) {
    case power_action::on:
      return "On";
    case power_action::off:
      return "ForceOff";
    case power_action::graceful_off:
      return "GracefulShutdown";
    case power_action::force_restart:
      return "ForceRestart";
    case power_action::power_cycle:
      return "PowerCycle";
  }
  return "On";
}

std::string to_string(boot_device d) {
  switch (d) {
    case boot_device::pxe:
      return "Pxe";
    case boot_device::disk:
      return "Hdd";
    case boot_device::cd:
      return "Cd";
    case boot_device::uefi_http:
      return "UefiHttp";
  }
  return "Pxe";
}

}  // namespace ab::bmc
