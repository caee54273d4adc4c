#include "bmc/redfish_driver.hpp"

#include <algorithm>
#include <thread>

#include "bmc/detail/redfish_client.hpp"
#include "bmc/detail/redfish_navigation.hpp"
#include "bmc/detail/redfish_sessions.hpp"
#include "core/error.hpp"

namespace ab::bmc {

using detail::redfish_client;
using nlohmann::json;

namespace {

/// The `@Redfish.AllowableValues` of `name` in `object`; empty means "anything".
std::vector<std::string> allowable(const json& object, const std::string& name) {
  std::vector<std::string> out;
  // An ActionInfo parameter lists its values as plain `AllowableValues`.
  auto key = name.empty() ? "AllowableValues" : name + "@Redfish.AllowableValues";
  if (!object.is_object() || !object.contains(key) || !object[key].is_array()) return out;
  for (const auto& v : object[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

bool allowed(const std::vector<std::string>& values, const std::string& v) {
  return values.empty() || std::find(values.begin(), values.end(), v) != values.end();
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

power_state parse_power(const std::string& s) {
  if (s == "On") return power_state::on;
  if (s == "Off") return power_state::off;
  if (s == "PoweringOn") return power_state::powering_on;
  if (s == "PoweringOff") return power_state::powering_off;
  return power_state::unknown;
}

/// The ResetType sequences that achieve `a`, best first.
std::vector<std::vector<std::string>> reset_plans(power_action a) {
  switch (a) {
    case power_action::on:
      return {{"On"}, {"ForceOn"}};
    case power_action::off:
      return {{"ForceOff"}};
    case power_action::graceful_off:
      return {{"GracefulShutdown"}};
    case power_action::force_restart:
      return {{"ForceRestart"}, {"PowerCycle"}};
    case power_action::power_cycle:
      return {{"PowerCycle"}, {"ForceRestart"}, {"ForceOff", "On"}};
  }
  return {};
}

/// The ResetTypes the BMC allows: inline, or in the action's `@Redfish.ActionInfo`.
caf::expected<std::vector<std::string>> reset_types(redfish_client& c, const json& action) {
  auto values = allowable(action, "ResetType");
  auto info = detail::text(action, "@Redfish.ActionInfo");
  if (!values.empty() || info.empty()) return values;
  auto body = c.get(info);
  if (!body) return std::move(body.error());
  const auto& params = body->is_object() ? body->value("Parameters", json::array()) : json();
  if (params.is_array())
    for (const auto& p : params)
      if (detail::text(p, "Name") == "ResetType") return allowable(p, "");
  return values;
}

/// Waits (bounded by the target's timeout) until the System reports `Off`.
caf::error wait_until_off(redfish_client& c, const std::string& system,
                          std::chrono::milliseconds limit) {
  auto deadline = c.clock().monotonic() + limit;
  for (;;) {
    auto s = c.get(system);
    if (!s) return std::move(s.error());
    if (detail::text(*s, "PowerState") == "Off") return {};
    if (c.clock().monotonic() >= deadline)
      return make_error(errc::unavailable, "BMC " + c.endpoint() + " did not power off in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool holds_cd(const json& media) {
  const auto& types = media.is_object() ? media.value("MediaTypes", json::array()) : json();
  if (!types.is_array()) return false;
  return std::any_of(types.begin(), types.end(),
                     [](const json& type) { return type == "CD" || type == "DVD"; });
}

}  // namespace

namespace detail {

caf::expected<detail::resource> find_cd(redfish_client& c) {
  if (const auto* known = c.recall("cd"); known && known->is_string()) {
    auto path = known->get<std::string>();
    auto body = c.get(path);
    if (body && holds_cd(*body)) return detail::resource{path, std::move(*body)};
    if (!body && !is(body.error(), errc::not_found)) return std::move(body.error());
  }
  auto system = detail::first_member(c, "Systems");
  if (!system) return std::move(system.error());
  std::vector<json> owners{std::move(system->body)};
  auto manager = detail::first_member(c, "Managers");
  if (manager) owners.push_back(std::move(manager->body));
  for (const auto& owner : owners) {
    auto media = detail::linked_members(c, owner, "VirtualMedia");
    if (!media) return std::move(media.error());
    for (auto& m : *media) {
      if (!holds_cd(m.body)) continue;
      c.remember("cd", m.path);
      return std::move(m);
    }
  }
  return make_error(errc::invalid_argument,
                    "BMC " + c.endpoint() + " offers no virtual CD/DVD media");
}

}  // namespace detail

namespace {

/// Where the System's `ComputerSystem.Reset` goes and the ResetTypes it allows, found once
/// per session: `{"system", "target", "types"}`.
caf::expected<json> reset_facts(redfish_client& c) {
  if (const auto* known = c.recall("reset")) return *known;
  auto system = detail::first_member(c, "Systems");
  if (!system) return std::move(system.error());
  auto action_path = detail::action_target(system->body, "#ComputerSystem.Reset");
  if (action_path.empty())
    return make_error(errc::invalid_argument,
                      "BMC " + c.endpoint() + " offers no ComputerSystem.Reset action");
  auto types = reset_types(c, system->body["Actions"]["#ComputerSystem.Reset"]);
  if (!types) return std::move(types.error());
  json facts{{"system", system->path}, {"target", action_path}, {"types", *types}};
  c.remember("reset", facts);
  return facts;
}

caf::error insert_or_eject(redfish_client& c, const detail::resource& m, const std::string& url) {
  auto insert = detail::action_target(m.body, "#VirtualMedia.InsertMedia");
  auto eject = detail::action_target(m.body, "#VirtualMedia.EjectMedia");
  bool inserted = m.body.is_object() && m.body.value("Inserted", false);
  if (!insert.empty() && !eject.empty()) {
    if (inserted || url.empty()) {
      auto a = c.send("POST", eject, json::object());
      if (!a || url.empty()) return a ? caf::error{} : std::move(a.error());
    }
    auto a = c.send("POST", insert, {{"Image", url}, {"Inserted", true}, {"WriteProtected", true}});
    return a ? caf::error{} : std::move(a.error());
  }
  json patch = url.empty() ? json{{"Image", nullptr}, {"Inserted", false}}
                           : json{{"Image", url}, {"Inserted", true}};
  auto a = c.send("PATCH", m.path, patch, detail::text(m.body, "@odata.etag"));
  return a ? caf::error{} : std::move(a.error());
}

/// Runs the first ResetType sequence that achieves `a` within the allowed ones.
caf::error reset(redfish_client& c, const json& facts, power_action a,
                 std::chrono::milliseconds limit) {
  std::vector<std::string> values;
  for (const auto& v : facts["types"])
    if (v.is_string()) values.push_back(v.get<std::string>());
  auto action_path = facts["target"].get<std::string>();
  for (const auto& plan : reset_plans(a)) {
    if (!std::all_of(plan.begin(), plan.end(), [&](auto& v) { return allowed(values, v); }))
      continue;
    for (size_t i = 0; i < plan.size(); ++i) {
      if (i > 0)
        if (auto err = wait_until_off(c, facts["system"].get<std::string>(), limit)) return err;
      auto r = c.send("POST", action_path, {{"ResetType", plan[i]}});
      if (!r) return std::move(r.error());
    }
    return {};
  }
  return make_error(errc::invalid_argument, "BMC " + c.endpoint() + " does not allow ResetType " +
                                                to_string(a) + " (allowed: " + joined(values) +
                                                ")");
}

/// What `set_boot` needs of the System, as its last read in this session showed it: its path,
/// its ETag ("" when the BMC versions nothing) and its `Boot` object (the targets it allows).
void remember_boot(redfish_client& c, const detail::resource& system) {
  auto boot = system.body.is_object() ? system.body.value("Boot", json::object()) : json::object();
  c.remember("boot", json{{"path", system.path},
                          {"etag", detail::text(system.body, "@odata.etag")},
                          {"boot", std::move(boot)}});
}

/// After a write that changed the System: an ETag remembered for it is stale now.
void system_changed(redfish_client& c) {
  if (const auto* known = c.recall("boot"); known && !detail::text(*known, "etag").empty())
    c.forget("boot");
}

/// PATCHes the boot override of the System at `path`, whose `Boot` object is `boot`, with
/// `If-Match: etag` when one is known.
caf::expected<detail::json_answer> patch_boot(redfish_client& c, const std::string& path,
                                              const json& boot, const std::string& etag,
                                              boot_device d, bool once) {
  auto wanted = to_string(d);
  auto values = allowable(boot, "BootSourceOverrideTarget");
  if (!allowed(values, wanted))
    return make_error(errc::invalid_argument, "BMC " + c.endpoint() +
                                                  " does not allow boot override " + wanted +
                                                  " (allowed: " + joined(values) + ")");
  json patch{{"BootSourceOverrideTarget", wanted},
             {"BootSourceOverrideEnabled", once ? "Once" : "Continuous"}};
  if (d == boot_device::uefi_http) patch["BootSourceOverrideMode"] = "UEFI";
  // BMCs that version resources want the ETag back (428 or 412 otherwise).
  return c.send("PATCH", path, {{"Boot", patch}}, etag);
}

/// Sets the boot override: with the ETag of the System's last read in this session when there
/// was one (no GET), else, or when the BMC says that ETag is stale (412/428), after reading it.
caf::error set_boot_of(redfish_client& c, boot_device d, bool once) {
  const auto* known = c.recall("boot");
  // A target the last read did not allow may be allowed now: only a fresh read can refuse it.
  if (known && known->is_object() &&
      !allowed(allowable(known->value("boot", json::object()), "BootSourceOverrideTarget"),
               to_string(d)))
    known = nullptr;
  if (known && known->is_object()) {
    auto r = patch_boot(c, detail::text(*known, "path"), known->value("boot", json::object()),
                        detail::text(*known, "etag"), d, once);
    if (r) {
      // The answer's System, when the BMC sends it, carries the new ETag; else a versioned
      // System must be read again next time.
      if (detail::text(r->body, "@odata.etag").empty())
        system_changed(c);
      else
        remember_boot(c, {detail::text(*known, "path"), std::move(r->body)});
      return {};
    }
    if (!is(r.error(), errc::conflict)) return std::move(r.error());
    c.forget("boot");
  }
  auto system = detail::first_member(c, "Systems");
  if (!system) return std::move(system.error());
  remember_boot(c, *system);
  auto boot = system->body.is_object() ? system->body.value("Boot", json::object()) : json();
  auto r = patch_boot(c, system->path, boot, detail::text(system->body, "@odata.etag"), d, once);
  if (!r) return std::move(r.error());
  if (detail::text(r->body, "@odata.etag").empty())
    system_changed(c);
  else
    remember_boot(c, {system->path, std::move(r->body)});
  return {};
}

}  // namespace

std::shared_ptr<detail::redfish_sessions> redfish_driver::make_sessions(const redfish_options& o) {
  detail::session_limits limits;
  limits.max_sessions = o.max_sessions;
  limits.idle = o.session_idle;
  return std::make_shared<detail::redfish_sessions>(limits, o.clock);
}

detail::client_policy redfish_driver::policy() const {
  detail::client_policy p{options_.retries, options_.backoff, options_.clock};
  // Sessions idle no longer than any BMC's shortest SessionTimeout allows need not know it.
  p.read_session_timeout =
      options_.session_idle > detail::usable_idle(detail::shortest_session_timeout);
  return p;
}

caf::expected<power_state> redfish_driver::power(const target& t) {
  return detail::converse(*sessions_, t, policy(),
                          [](redfish_client& c) -> caf::expected<power_state> {
                            auto system = detail::first_member(c, "Systems");
                            if (!system) return std::move(system.error());
                            remember_boot(c, *system);
                            return parse_power(detail::text(system->body, "PowerState"));
                          });
}

caf::error redfish_driver::set_power(const target& t, power_action a) {
  return detail::converse(*sessions_, t, policy(), [&](redfish_client& c) -> caf::error {
    auto facts = reset_facts(c);
    if (!facts) return std::move(facts.error());
    auto err = reset(c, *facts, a, t.timeout);
    system_changed(c);
    return err;
  });
}

caf::error redfish_driver::set_boot(const target& t, boot_device d, bool once) {
  return detail::converse(*sessions_, t, policy(),
                          [&](redfish_client& c) { return set_boot_of(c, d, once); });
}

caf::error redfish_driver::set_media(const target& t, const std::string& image_url) {
  return detail::converse(*sessions_, t, policy(), [&](redfish_client& c) -> caf::error {
    auto cd = find_cd(c);
    if (!cd) return std::move(cd.error());
    return insert_or_eject(c, *cd, image_url);
  });
}

}  // namespace ab::bmc
