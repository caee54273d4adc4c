#include "tools/bmc_cli.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/private_file.hpp"

namespace ab::tools {

namespace {

caf::error bad(const std::string& what) {
  return make_error(errc::invalid_argument, what + " (see ab-bmc --help)");
}

/// Each command and its sub-commands (none: the command takes no argument).
const std::map<std::string, std::vector<std::string>>& commands() {
  static const std::map<std::string, std::vector<std::string>> all{
      {"power", {"status", "on", "off", "cycle", "restart", "graceful-off"}},
      {"boot", {"pxe", "disk", "cd", "http"}},
      {"media", {"insert", "eject"}},
      {"inventory", {}},
      {"erase", {}}};
  return all;
}

caf::error check_command(const std::vector<std::string>& cmd) {
  if (cmd.empty()) return bad("no command given");
  auto it = commands().find(cmd[0]);
  if (it == commands().end()) return bad("unknown command '" + cmd[0] + "'");
  const auto& subs = it->second;
  if (subs.empty()) return cmd.size() == 1 ? caf::error{} : bad(cmd[0] + " takes no argument");
  if (cmd.size() < 2 || std::find(subs.begin(), subs.end(), cmd[1]) == subs.end())
    return bad(cmd[0] + " needs one of its sub-commands");
  std::size_t want = cmd[0] == "media" && cmd[1] == "insert" ? 3 : 2;
  return cmd.size() == want ? caf::error{} : bad("wrong number of arguments to " + cmd[0]);
}

/// The driver's interface `i`, or the refusal naming what the driver cannot do.
template <class Interface>
caf::expected<Interface*> need(bmc::driver& d, Interface* i, bmc::capability c) {
  if (i) return i;
  return make_error(errc::invalid_argument, "the " + d.name() + " driver has no " +
                                                std::string{bmc::to_string(c)} + " interface");
}

caf::error run_power(bmc::power_control& d, const bmc_command_line& cl, std::string& out) {
  const auto& sub = cl.command[1];
  if (sub == "status") {
    auto s = d.power(cl.target);
    if (!s) return std::move(s.error());
    out = bmc::to_string(*s) + "\n";
    return {};
  }
  static const std::map<std::string, bmc::power_action> actions{
      {"on", bmc::power_action::on},
      {"off", bmc::power_action::off},
      {"cycle", bmc::power_action::power_cycle},
      {"restart", bmc::power_action::force_restart},
      {"graceful-off", bmc::power_action::graceful_off}};
  return d.set_power(cl.target, actions.at(sub));
}

caf::error run_erase(bmc::disk_eraser& d, const bmc_command_line& cl, std::string& out) {
  auto results = d.erase_disks(cl.target);
  if (!results) return std::move(results.error());
  bool all_ok = std::all_of(results->begin(), results->end(), [](const auto& r) { return r.ok; });
  out = nlohmann::json(*results).dump(2) + "\n";
  return all_ok ? caf::error{} : make_error(errc::unavailable, "not every drive was erased");
}

}  // namespace

std::string bmc_usage() {
  return "usage: ab-bmc [--driver redfish|ipmi] --endpoint URL --user U --password-file F\n"
         "              [--insecure] [--ca-file F] [--timeout-ms N] COMMAND\n"
         "commands:\n"
         "  power status|on|off|cycle|restart|graceful-off\n"
         "  boot pxe|disk|cd|http [--once]\n"
         "  media insert URL | media eject\n"
         "  inventory            (JSON on stdout)\n"
         "  erase                (secure-erases every drive; JSON results on stdout)\n";
}

caf::expected<bmc_command_line> parse_bmc_command_line(const std::vector<std::string>& args) {
  bmc_command_line cl;
  std::map<std::string, std::string*> values{{"--driver", &cl.driver},
                                             {"--endpoint", &cl.target.endpoint},
                                             {"--user", &cl.target.user},
                                             {"--password-file", &cl.password_file},
                                             {"--ca-file", &cl.target.ca_file}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      cl.help = true;
    } else if (a == "--insecure") {
      cl.target.insecure = true;
    } else if (a == "--once") {
      cl.once = true;
    } else if (values.count(a) != 0 || a == "--timeout-ms") {
      if (i + 1 >= args.size()) return bad(a + " needs a value");
      const auto& v = args[++i];
      if (a != "--timeout-ms") {
        *values[a] = v;
        continue;
      }
      char* end = nullptr;
      auto ms = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || ms <= 0)
        return bad("--timeout-ms wants a positive number");
      cl.target.timeout = std::chrono::milliseconds(ms);
    } else if (a.rfind("--", 0) == 0) {
      return bad("unknown option " + a);
    } else {
      cl.command.push_back(a);
    }
  }
  if (cl.help) return cl;
  if (cl.target.endpoint.empty()) return bad("--endpoint is required");
  if (auto err = check_command(cl.command)) return err;
  return cl;
}

caf::error load_password(bmc_command_line& cl) {
  if (cl.password_file.empty()) return {};
  if (auto err = check_private_file(cl.password_file, "password file")) return err;
  std::ifstream in(cl.password_file);
  if (!in) return make_error(errc::bad_config, "cannot read password file " + cl.password_file);
  std::getline(in, cl.target.password);
  if (!cl.target.password.empty() && cl.target.password.back() == '\r')
    cl.target.password.pop_back();
  return {};
}

caf::error run_bmc_command(bmc::driver& d, const bmc_command_line& cl, std::string& out) {
  const auto& cmd = cl.command;
  using bmc::capability;
  if (cmd[0] == "power") {
    auto power = need(d, d.power_interface(), capability::power);
    return power ? run_power(**power, cl, out) : power.error();
  }
  if (cmd[0] == "boot") {
    static const std::map<std::string, bmc::boot_device> devices{
        {"pxe", bmc::boot_device::pxe},
        {"disk", bmc::boot_device::disk},
        {"cd", bmc::boot_device::cd},
        {"http", bmc::boot_device::uefi_http}};
    auto boot = need(d, d.boot_interface(), capability::boot);
    return boot ? (*boot)->set_boot(cl.target, devices.at(cmd[1]), cl.once) : boot.error();
  }
  if (cmd[0] == "media") {
    auto media = need(d, d.media_interface(), capability::media);
    return media ? (*media)->set_media(cl.target, cmd[1] == "insert" ? cmd[2] : "") : media.error();
  }
  if (cmd[0] == "erase") {
    auto eraser = need(d, d.erase_interface(), capability::erase);
    return eraser ? run_erase(**eraser, cl, out) : eraser.error();
  }
  auto reader = need(d, d.inventory_interface(), capability::inventory);
  if (!reader) return std::move(reader.error());
  auto inv = (*reader)->read_inventory(cl.target);
  if (!inv) return std::move(inv.error());
  out = nlohmann::json(*inv).dump(2) + "\n";
  return {};
}

}  // namespace ab::tools
