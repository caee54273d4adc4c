#include "net/api/preflight.hpp"

#include <algorithm>
#include <future>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "lifecycle/quotas.hpp"
#include "lifecycle/safety.hpp"
#include "lifecycle/workflows.hpp"
#include "net/api/error.hpp"

namespace ab::net {

namespace {

using json = nlohmann::json;

/// Typical durations of the job types, for an action the site has no history of yet.
time_ms typical_ms(const std::string& type) {
  static const std::map<std::string, time_ms> table{
      {"power_on", 30'000},   {"power_off", 30'000},   {"ipmi_reboot", 60'000},
      {"inventory", 60'000},  {"record_facts", 1'000}, {"boot_installer", 90'000},
      {"install", 1'200'000}, {"boot_disk", 90'000},   {"verify", 180'000},
      {"erase", 3'600'000},   {"retire", 1'000}};
  auto it = table.find(type);
  return it == table.end() ? 1'000 : it->second;
}

/// How long a request of `action` takes: the mean of the site's last succeeded ones, or the sum
/// of its job types' typical durations.
std::pair<time_ms, std::string> duration_of(storage::store& store, const std::string& action) {
  storage::request_filter f;
  f.state = storage::request_state::succeeded;
  f.action = action;
  f.limit = 20;
  if (auto page = store.requests(f)) {
    time_ms total = 0;
    int n = 0;
    for (const auto& r : page->items)
      if (r.started_at > 0 && r.finished_at >= r.started_at) {
        total += r.finished_at - r.started_at;
        ++n;
      }
    if (n > 0)
      return {total / n, "the mean of the site's last " + std::to_string(n) + " succeeded " +
                             action + " requests"};
  }
  time_ms sum = 0;
  for (const auto& j : lifecycle::chain_of(action)) sum += typical_ms(j.type);
  return {sum, "typical durations of the action's job types"};
}

std::string check_name_of(const caf::error& err) {
  if (is(err, errc::invalid_state)) return "state";
  if (is(err, errc::unsupported_by_bmc)) return "capability";
  return "plan";
}

}  // namespace

caf::expected<preflight_report> preflight(const submit_command& cmd, const preflight_context& ctx) {
  auto& store = *ctx.store;
  preflight_report out;
  out.action = cmd.action;
  const auto n = static_cast<std::int64_t>(cmd.hosts.size());
  if (lifecycle::destructive(cmd.action)) {
    // A part of a call ab-router split over sites is confirmed and capped as the whole call.
    const auto whole = call_host_count(cmd);
    auto why =
        lifecycle::confirmation_refusal(cmd.action, whole, cmd.confirm_hosts, ctx.confirm_above);
    out.checks.push_back({"confirmation", !why, why ? *why : "not needed or given as the count"});
    if (ctx.limits.hosts_per_call) {
      bool ok = whole <= *ctx.limits.hosts_per_call;
      out.checks.push_back({"quota_per_call", ok,
                            "role " + ctx.limits.per_call_role + " allows " +
                                std::to_string(*ctx.limits.hosts_per_call) +
                                " hosts per call; this call names " + std::to_string(whole)});
    }
    if (ctx.limits.hosts_per_hour) {
      auto used = store.quota_used(ctx.who->name);
      if (!used) return used.error();
      bool ok = *used + n <= *ctx.limits.hosts_per_hour;
      out.checks.push_back({"quota_per_hour", ok,
                            ctx.who->name + " used " + std::to_string(*used) + " of " +
                                std::to_string(*ctx.limits.hosts_per_hour) +
                                " hosts in the last hour (role " + ctx.limits.per_hour_role +
                                "); this call needs " + std::to_string(n)});
    }
  }
  bool call_ok = std::all_of(out.checks.begin(), out.checks.end(),
                             [](const preflight_check& c) { return c.ok; });
  auto found = store.find_hosts(cmd.hosts);
  if (!found) return found.error();
  std::map<std::string, const storage::host_record*> by_name;
  for (const auto& h : *found)
    if (ctx.visible(h.site, h.name)) by_name[h.name] = &h;
  auto holds = store.holds_of(cmd.hosts);
  if (!holds) return holds.error();
  auto pauses = store.active_pauses();
  if (!pauses) return pauses.error();
  auto [duration, basis] = duration_of(store, cmd.action);
  std::string cluster;
  if (ctx.cluster_of) cluster = ctx.cluster_of(cmd.action).value_or("");
  out.estimate_basis = basis;
  std::vector<std::pair<std::size_t, const storage::host_record*>> to_probe;
  for (const auto& name : cmd.hosts) {
    host_preflight hp;
    hp.host = name;
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      hp.checks.push_back(
          {"inventory", false, "host '" + printable(name) + "' is not in the inventory"});
      out.hosts.push_back(std::move(hp));
      continue;
    }
    const auto& h = *it->second;
    auto d = ctx.allowed({cmd.action, h.site, name, cmd.priority_class});
    hp.checks.push_back({"policy", d.allowed, d.reason});
    auto plan = ctx.rules->plan(cmd.action, h);
    if (plan) {
      for (const auto& j : plan->chain) hp.chain.push_back(j.type);
      hp.checks.push_back({"state", true, "allowed from state " + h.lifecycle_state});
      hp.checks.push_back({"capability", true, "the BMC offers " + plan->needs.describe()});
    } else {
      hp.checks.push_back({check_name_of(plan.error()), false, message_of(plan.error())});
    }
    storage::request_filter latest;
    latest.host = name;
    latest.limit = 1;
    auto last = store.requests(latest);
    if (!last) return last.error();
    if (!last->items.empty() && !storage::is_terminal(last->items.front().state))
      hp.checks.push_back(
          {"busy", false, "the host has active request " + std::to_string(last->items.front().id)});
    else
      hp.checks.push_back({"busy", true, "no active request"});
    bool held = false, paused = false;
    for (const auto& b :
         lifecycle::blockers_of({name, h.site, cmd.action, cluster}, *holds, *pauses)) {
      if (b.kind == "hold") {
        held = true;
        hp.checks.push_back({"hold", false, b.reason});
      } else {
        paused = true;
        hp.checks.push_back({b.kind, false, b.reason, "wait"});
      }
    }
    if (!held) hp.checks.push_back({"hold", true, "not on hold"});
    if (!paused) hp.checks.push_back({"pause", true, "no pause covers it"});
    if (ctx.probe) {
      if (to_probe.size() < ctx.max_probes)
        to_probe.emplace_back(out.hosts.size(), &h);
      else
        hp.checks.push_back(
            {"bmc_reachable", true,
             "not probed: a dry run probes at most " + std::to_string(ctx.max_probes) + " BMCs"});
    }
    if (!paused) {
      hp.estimated_start_ms = ctx.now;
      hp.estimated_end_ms = ctx.now + duration;
    }
    out.hosts.push_back(std::move(hp));
  }
  // The BMC probes, bounded each, a few at a time.
  const auto parallel = std::max<std::size_t>(ctx.probe_parallel, 1);
  for (std::size_t i = 0; i < to_probe.size(); i += parallel) {
    std::vector<std::future<std::vector<preflight_check>>> running;
    for (std::size_t k = i; k < std::min(to_probe.size(), i + parallel); ++k)
      running.push_back(std::async(std::launch::async, ctx.probe, *to_probe[k].second));
    for (std::size_t k = 0; k < running.size(); ++k) {
      auto& hp = out.hosts[to_probe[i + k].first];
      for (auto& c : running[k].get()) hp.checks.push_back(std::move(c));
    }
  }
  out.accepted = call_ok;
  for (auto& hp : out.hosts) {
    hp.accepted =
        call_ok && std::all_of(hp.checks.begin(), hp.checks.end(),
                               [](const preflight_check& c) { return c.ok || c.effect == "wait"; });
    if (!hp.accepted) out.accepted = false;
  }
  return out;
}

std::string encode_preflight(const preflight_report& r) {
  auto checks = [](const std::vector<preflight_check>& cs) {
    json out = json::array();
    for (const auto& c : cs) {
      json j{{"check", c.name}, {"ok", c.ok}, {"reason", c.reason}};
      if (!c.ok) j["effect"] = c.effect;
      out.push_back(std::move(j));
    }
    return out;
  };
  json hosts = json::array();
  for (const auto& h : r.hosts) {
    json failed = json::array();
    for (const auto& c : h.checks)
      if (!c.ok) failed.push_back(c.name);
    hosts.push_back(
        {{"host", h.host},
         {"accepted", h.accepted},
         {"chain", h.chain},
         {"failed", std::move(failed)},
         {"checks", checks(h.checks)},
         {"estimated_start_ms", h.estimated_start_ms ? json(*h.estimated_start_ms) : json(nullptr)},
         {"estimated_end_ms", h.estimated_end_ms ? json(*h.estimated_end_ms) : json(nullptr)}});
  }
  json out{{"dry_run", true},           {"action", r.action},
           {"accepted", r.accepted},    {"checks", checks(r.checks)},
           {"hosts", std::move(hosts)}, {"estimate_basis", r.estimate_basis}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

caf::expected<std::int64_t> admit_destructive(const submit_command& cmd, const auth::identity& who,
                                              const auth::caller_limits& limits,
                                              std::int64_t confirm_above,
                                              storage::quota_store& quotas, time_ms now) {
  if (!lifecycle::destructive(cmd.action)) return std::int64_t{0};
  const auto n = static_cast<std::int64_t>(cmd.hosts.size());
  // A part of a call ab-router split over sites is confirmed and capped as the whole call: the
  // caller confirmed the whole call's count, and splitting it must not make a big call small.
  const auto whole = call_host_count(cmd);
  if (auto why =
          lifecycle::confirmation_refusal(cmd.action, whole, cmd.confirm_hosts, confirm_above))
    return make_error(api_errc::confirmation_required, *why);
  if (limits.hosts_per_call && whole > *limits.hosts_per_call)
    return make_error(api_errc::quota_exceeded,
                      cmd.action + " of " + std::to_string(whole) +
                          " hosts is over the cap of role " + limits.per_call_role + ": at most " +
                          std::to_string(*limits.hosts_per_call) +
                          " hosts per call; split the call or use a wave plan");
  if (!limits.hosts_per_hour) return std::int64_t{0};
  auto charged = quotas.charge_quota({who.name, cmd.action, n, *limits.hosts_per_hour});
  if (!charged) return charged.error();
  if (!charged->charged) {
    std::string when =
        charged->fits_at > 0
            ? "; it fits in " + std::to_string((charged->fits_at - now + 59'999) / 60'000) + " min"
            : "";
    return make_error(api_errc::quota_exceeded,
                      who.name + " acted on " + std::to_string(charged->used) +
                          " hosts in the last hour with destructive actions; role " +
                          limits.per_hour_role + " allows " +
                          std::to_string(*limits.hosts_per_hour) +
                          " per hour and this call needs " + std::to_string(n) + " more" + when);
  }
  return charged->id;
}

}  // namespace ab::net
