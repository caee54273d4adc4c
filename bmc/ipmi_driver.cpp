#include "bmc/ipmi_driver.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "bmc/detail/ipmitool_output.hpp"
#include "bmc/detail/subprocess.hpp"
#include "bmc/endpoint_policy.hpp"
#include "core/error.hpp"

namespace ab::bmc {

namespace {

using clock = ipmi_driver::clock;

/// ipmitool's `chassis power` word for each action.
constexpr std::array<std::pair<power_action, std::string_view>, 5> power_words{{
    {power_action::on, "on"},
    {power_action::off, "off"},
    {power_action::graceful_off, "soft"},
    {power_action::force_restart, "reset"},
    {power_action::power_cycle, "cycle"},
}};

/// ipmitool's `chassis bootdev` word for each device IPMI has (UEFI HTTP it has not).
constexpr std::array<std::pair<boot_device, std::string_view>, 3> boot_words{{
    {boot_device::pxe, "pxe"},
    {boot_device::disk, "disk"},
    {boot_device::cd, "cdrom"},
}};

/// The word for `key` in `table`, or "" if it has none.
template <class Key, std::size_t N>
std::string_view word(const std::array<std::pair<Key, std::string_view>, N>& table, Key key) {
  for (const auto& [k, w] : table)
    if (k == key) return w;
  return {};
}

/// The host and the UDP port of an IPMI endpoint `HOST[:PORT]` or `[V6ADDR][:PORT]`; the port
/// is 623 unless given. Empty host on malformed input.
std::pair<std::string, std::string> split_endpoint(const std::string& endpoint) {
  std::string host = endpoint, port = "623";
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return {};
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (auto colon = host.find(':');
             colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    port = host.substr(colon + 1);
    host.resize(colon);
  }
  bool numeric =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      std::stoi(port) <= 65535;
  bool clean = std::none_of(host.begin(), host.end(), [](char c) { return c <= ' '; });
  if (!numeric || !clean || host.empty() || host.front() == '-') return {};
  return {host, port};
}

std::string where(const target& t) {
  return "IPMI BMC " + t.endpoint;
}

caf::error cannot(const std::string& what) {
  return make_error(errc::invalid_argument, "IPMI cannot " + what);
}

/// The error for a run of ipmitool that ended with a failure.
caf::error failure(const target& t, const std::string& err) {
  auto reason = detail::failure_reason(err);
  switch (detail::classify_failure(err)) {
    case detail::ipmitool_failure::auth:
      return make_error(errc::unauthenticated, where(t) + " refused the credentials: " + reason);
    case detail::ipmitool_failure::transient:
      return make_error(errc::unavailable, where(t) + " does not answer: " + reason);
    case detail::ipmitool_failure::other:
      break;
  }
  return make_error(errc::conflict, where(t) + " refused the command: " + reason);
}

caf::error timed_out(const target& t) {
  return make_error(errc::unavailable, where(t) + " did not answer within " +
                                           std::to_string(t.timeout.count()) + " ms");
}

/// The time until `deadline`; zero or less once it passed.
std::chrono::milliseconds left_until(clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
}

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("bmc");
  return log ? log : spdlog::default_logger()->clone("bmc");
}

}  // namespace

ipmi_driver::ipmi_driver(std::string ipmitool_path, ipmi_retry retry)
    : ipmitool_(std::move(ipmitool_path)), retry_(retry), log_(logger()) {}

std::vector<std::string> ipmi_driver::arguments(const target& t,
                                                const std::vector<std::string>& command) {
  auto [host, port] = split_endpoint(t.endpoint);
  // -v: ipmitool says why a session failed (e.g. "RAKP 2 HMAC is invalid") only when verbose.
  // -C 3: cipher suite 3 (HMAC-SHA1, AES-128), which every IPMI 2.0 BMC offers.
  std::vector<std::string> args{"-v", "-I", "lanplus", "-C", "3",    "-H",
                                host, "-p", port,      "-U", t.user, "-E"};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

caf::expected<std::string> ipmi_driver::run(const target& t,
                                            const std::vector<std::string>& command) {
  if (split_endpoint(t.endpoint).first.empty())
    return make_error(errc::invalid_argument,
                      "IPMI endpoint '" + t.endpoint + "' is not HOST[:PORT]");
  if (::access(ipmitool_.c_str(), X_OK) != 0)
    return make_error(errc::bad_config,
                      "ipmitool is not at " + ipmitool_ + " (scripts/setup installs it)");
  auto pinned = t;
  if (t.policy) {
    // Resolve here and hand ipmitool the checked address: it cannot resolve the name again to
    // something else.
    auto [host, port] = split_endpoint(t.endpoint);
    auto address = t.policy->resolve(host);
    if (!address) return std::move(address.error());
    pinned.endpoint =
        (address->find(':') != std::string::npos ? "[" + *address + "]" : *address) + ":" + port;
  }
  auto argv = arguments(pinned, command);
  argv.insert(argv.begin(), ipmitool_);
  // Only what ipmitool needs; the password never appears on its command line.
  std::vector<std::string> env{"IPMI_PASSWORD=" + t.password, "PATH=/usr/bin:/bin", "LC_ALL=C"};
  auto deadline = clock::now() + t.timeout;
  auto backoff = retry_.backoff;
  for (int attempt = 1;; ++attempt) {
    auto out = run_once(t, argv, env, deadline);
    if (out || !is(out.error(), errc::unavailable) || attempt >= retry_.attempts) return out;
    auto pause = std::min(backoff, left_until(deadline));
    if (pause.count() <= 0) return out;
    log_->debug("{}: attempt {} failed, retrying: {}", where(t), attempt, message_of(out.error()));
    std::this_thread::sleep_for(pause);
    backoff *= 2;
  }
}

caf::expected<std::string> ipmi_driver::run_once(const target& t,
                                                 const std::vector<std::string>& argv,
                                                 const std::vector<std::string>& env,
                                                 clock::time_point deadline) {
  auto left = left_until(deadline);
  if (left.count() <= 0) return timed_out(t);
  auto result = detail::run(argv, env, left);
  if (!result) return std::move(result.error());
  if (result->timed_out) return timed_out(t);
  if (result->exit_code == 0) return std::move(result->out);
  return failure(t, result->err);
}

caf::expected<power_state> ipmi_driver::power(const target& t) {
  auto out = run(t, {"chassis", "power", "status"});
  if (!out) return std::move(out.error());
  return detail::parse_power_status(*out);
}

caf::error ipmi_driver::set_power(const target& t, power_action a) {
  auto out = run(t, {"chassis", "power", std::string{word(power_words, a)}});
  return out ? caf::error{} : std::move(out.error());
}

caf::error ipmi_driver::set_boot(const target& t, boot_device d, bool once) {
  auto device = word(boot_words, d);
  if (device.empty()) return cannot("boot from " + to_string(d) + " (no IPMI boot device)");
  std::vector<std::string> command{"chassis", "bootdev", std::string{device}};
  if (!once) command.emplace_back("options=persistent");
  auto out = run(t, command);
  return out ? caf::error{} : std::move(out.error());
}

caf::expected<inventory> ipmi_driver::read_inventory(const target& t) {
  auto out = run(t, {"fru", "print", "0"});
  // A BMC without FRU data fails the command ("Device not present"); that is no outage.
  if (!out && !is(out.error(), errc::conflict)) return std::move(out.error());
  auto found = out ? detail::parse_fru(*out) : inventory{};
  if (found.manufacturer.empty() && found.model.empty() && found.serial.empty())
    return cannot("read the inventory of " + t.endpoint + ": its FRU names no product" +
                  (out ? std::string{} : " (" + message_of(out.error()) + ")"));
  return found;
}

}  // namespace ab::bmc
