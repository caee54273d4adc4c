#include "lifecycle/workflows.hpp"

namespace ab::lifecycle {

namespace {

constexpr time_ms minute = time_ms{60} * 1000;

}  // namespace

const std::map<std::string, std::vector<step>>& workflows() {
  // The first image of new inventory and an OS upgrade of a host in service take the same
  // steps; they differ in which hosts they are allowed on and in which cluster runs them.
  static const std::vector<step> install_os{{"power_off", 5, 5 * minute},
                                            {"boot_installer", 5, 5 * minute},
                                            {"install", 2, 90 * minute},
                                            {"boot_disk", 5, 5 * minute},
                                            {"verify", 5, 15 * minute}};
  // action          steps (job type, attempts, time limit of one attempt)
  static const std::map<std::string, std::vector<step>> table{
      {"discover",
       {{"inventory", 5, 5 * minute}, {"record_facts", 3, minute}, {"power_off", 5, 5 * minute}}},
      {"build", install_os},
      {"reimage", install_os},
      {"ipmi_reboot", {{"ipmi_reboot", 5, 5 * minute}}},
      {"power_on", {{"power_on", 5, 5 * minute}}},
      {"power_off", {{"power_off", 5, 5 * minute}}},
      {"wipe", {{"power_off", 5, 5 * minute}, {"erase", 3, 240 * minute}}},
      {"decommission",
       {{"power_off", 5, 5 * minute}, {"erase", 3, 240 * minute}, {"retire", 3, minute}}},
      // Simulated actions: no hardware involved.
      {"sim.chain", {{"sim.step", 3, minute}, {"sim.noop", 3, minute}, {"sim.step", 3, minute}}},
      {"sim.wait", {{"sim.wait", 3, 0}}},
  };
  return table;
}

const std::map<std::string, bmc::capability_set>& job_types() {
  using bmc::capability;
  // job type         the BMC interfaces it calls
  static const std::map<std::string, bmc::capability_set> table{
      {"power_on", {capability::power}},
      {"power_off", {capability::power}},
      {"ipmi_reboot", {capability::power}},
      {"inventory", {capability::inventory}},
      {"record_facts", {}},
      // Virtual CD in, boot once from it, power on or restart.
      {"boot_installer", {capability::media, capability::boot, capability::power}},
      {"install", {}},
      // Virtual CD out, boot from disk, restart.
      {"boot_disk", {capability::media, capability::boot, capability::power}},
      {"verify", {capability::power}},
      {"erase", {capability::erase}},
      {"retire", {}},
      {"sim.step", {}},
      {"sim.noop", {}},
      {"sim.wait", {}},
  };
  return table;
}

std::vector<storage::job_spec> chain_of(const std::string& action) {
  std::vector<storage::job_spec> out;
  auto it = workflows().find(action);
  if (it == workflows().end()) return out;
  for (const auto& s : it->second) out.push_back({s.type, s.max_attempts, s.timeout_ms});
  return out;
}

bmc::capability_set needs_of(const std::string& action) {
  bmc::capability_set out;
  auto it = workflows().find(action);
  if (it == workflows().end()) return out;
  for (const auto& s : it->second)
    if (auto t = job_types().find(s.type); t != job_types().end()) out = out | t->second;
  return out;
}

}  // namespace ab::lifecycle
