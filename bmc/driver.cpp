#include "bmc/driver.hpp"

namespace ab::bmc {

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
