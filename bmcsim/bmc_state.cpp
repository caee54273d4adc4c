#include "bmcsim/bmc_state.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/hash.hpp"

namespace ab::bmc::sim {

namespace {

/// `bits` as `digits` lower-case hex digits.
std::string hex(std::uint64_t bits, int digits) {
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, bits >>= 4)
    out[static_cast<std::size_t>(i)] = "0123456789abcdef"[bits & 0xf];
  return out;
}

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

/// Records the boot a completed power-on ends in, and consumes a one-time override.
void record_boot(bmc_state& b, time_ms at) {
  boot_event e{at, "Hdd", ""};
  if (b.boot_enabled != "Disabled" && b.boot_target != "None") {
    e.target = b.boot_target;
    if (e.target == "Cd" && b.media_inserted) e.image = b.media_image;
  }
  b.boots.push_back(std::move(e));
  if (b.boot_enabled == "Once") b.boot_enabled = "Disabled";
}

void start_transition(bmc_state& b, bool on, time_ms now, time_ms delay) {
  b.transition = on ? "PoweringOn" : "PoweringOff";
  b.transition_end = now + delay;
}

}  // namespace

std::string identity::mac(int nic) const {
  // Locally administered unicast: the first octet's two low bits are 1 (local) and 0 (unicast);
  // its six high bits and the next four octets carry the 38 bits, the last octet the NIC.
  std::uint64_t first = ((mac_bits >> 32) & 0x3fULL) << 2 | 0x02ULL;
  std::uint64_t bits =
      first << 40 | (mac_bits & 0xffffffffULL) << 8 | static_cast<std::uint64_t>(nic);
  std::string out;
  for (int shift = 40; shift >= 0; shift -= 8) {
    if (!out.empty()) out += ':';
    out += hex(bits >> shift, 2);
  }
  return out;
}

identity identity_of(const std::string& id) {
  auto a = fnv1a64(id);
  auto b = fnv1a64(id + "#uuid");
  identity out;
  out.serial = "SIM" + hex(a, 12);
  for (auto& c : out.serial) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto u = hex(a, 16) + hex(b, 16);
  out.uuid = u.substr(0, 8) + "-" + u.substr(8, 4) + "-" + u.substr(12, 4) + "-" + u.substr(16, 4) +
             "-" + u.substr(20, 12);
  out.mac_bits = a >> 26;
  return out;
}

bmc_state make_bmc(const std::string& id) {
  bmc_state b;
  b.id = id;
  b.ident = identity_of(id);
  return b;
}

void settle(bmc_state& b, time_ms now) {
  if (b.transition.empty() || now < b.transition_end) return;
  b.powered = b.transition == "PoweringOn";
  b.transition.clear();
  if (b.powered) record_boot(b, b.transition_end);
}

std::string power_state(const bmc_state& b) {
  if (!b.transition.empty()) return b.transition;
  return b.powered ? "On" : "Off";
}

const std::vector<std::string>& reset_types() {
  static const std::vector<std::string> v{
      "On",  "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
      "Nmi", "ForceOn",  "PushPowerButton",  "PowerCycle"};
  return v;
}

const std::vector<std::string>& boot_targets() {
  static const std::vector<std::string> v{"None",      "Pxe",       "Cd",    "Usb",       "Hdd",
                                          "BiosSetup", "Utilities", "Diags", "UefiTarget"};
  return v;
}

const std::vector<std::string>& boot_enabled_values() {
  static const std::vector<std::string> v{"Disabled", "Once", "Continuous"};
  return v;
}

const std::vector<std::string>& boot_modes() {
  static const std::vector<std::string> v{"Legacy", "UEFI"};
  return v;
}

bool reset(bmc_state& b, const std::string& type, time_ms now, time_ms delay) {
  if (!contains(reset_types(), type)) return false;
  // What the machine is heading for counts, not what it is now.
  bool heading_on = b.transition.empty() ? b.powered : b.transition == "PoweringOn";
  if (type == "On" || type == "ForceOn") {
    if (!heading_on) start_transition(b, true, now, delay);
  } else if (type == "ForceOff" || type == "GracefulShutdown") {
    if (heading_on) start_transition(b, false, now, delay);
  } else if (type == "PushPowerButton") {
    start_transition(b, !heading_on, now, delay);
  } else if (type != "Nmi") {
    // Restarts and power cycles end in a boot, from whatever state.
    start_transition(b, true, now, delay);
  }
  return true;
}

void record_action(bmc_state& b, time_ms now, std::string kind, std::string detail,
                   const std::string& job) {
  // A caller names its job in a header: kept short and printable, whatever it sent.
  std::string tag;
  for (char c : job.substr(0, 128))
    if (c > ' ' && c < 127) tag += c;
  b.actions.push_back({now, std::move(kind), std::move(detail), std::move(tag)});
}

nlohmann::json actions_json(const bmc_state& b) {
  auto out = nlohmann::json::array();
  for (const auto& a : b.actions)
    out.push_back({{"at", a.at}, {"kind", a.kind}, {"detail", a.detail}, {"job", a.job}});
  return out;
}

nlohmann::json to_json(const bmc_state& b, time_ms now) {
  auto boots = nlohmann::json::array();
  for (const auto& e : b.boots)
    boots.push_back({{"at", e.at}, {"target", e.target}, {"image", e.image}});
  auto installs = nlohmann::json::array();
  for (const auto& e : b.installs)
    installs.push_back({{"at", e.at},
                        {"kind", e.kind},
                        {"image", e.image},
                        {"http_status", e.http_status},
                        {"detail", e.detail}});
  auto tasks = nlohmann::json::array();
  for (const auto& t : b.tasks)
    tasks.push_back({{"id", t.id}, {"drive", t.drive}, {"done", now >= t.end}});
  return {{"id", b.id},
          {"serial", b.ident.serial},
          {"uuid", b.ident.uuid},
          {"power", power_state(b)},
          {"transition_end", b.transition.empty() ? 0 : b.transition_end},
          {"boot", {{"target", b.boot_target}, {"enabled", b.boot_enabled}, {"mode", b.boot_mode}}},
          {"media", {{"image", b.media_image}, {"inserted", b.media_inserted}}},
          {"erase_tasks", tasks},
          {"boots", boots},
          {"installs", installs},
          {"installing", b.installing},
          {"actions", b.actions.size()},
          {"sessions", b.sessions.size()},
          {"logins", b.logins},
          {"logouts", b.logouts},
          {"requests", b.requests},
          {"faults_injected", b.faults_injected},
          {"faults", b.faults ? to_json(*b.faults) : nlohmann::json(nullptr)}};
}

}  // namespace ab::bmc::sim
