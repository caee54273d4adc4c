#include "lifecycle/rules.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "lifecycle/workflows.hpp"

namespace ab::lifecycle {

namespace {

std::string name_of(const std::optional<state>& s) {
  return s ? std::string{to_string(*s)} : std::string{};
}

/// Why `action` may not leave a host in `current`, or nullopt if it may.
std::optional<std::string> refusal(const std::string& action, const transition& t, state current) {
  if (std::find(t.from.begin(), t.from.end(), current) != t.from.end()) return std::nullopt;
  if (current == state::decommissioned) return std::string{"the host is decommissioned"};
  std::string allowed;
  for (auto s : t.from) allowed += (allowed.empty() ? "" : ", ") + std::string{to_string(s)};
  return action + " is not allowed on a host in state " + std::string{to_string(current)} +
         " (only from " + allowed + ")";
}

/// The sentence of `err` without its code.
std::string sentence_of(const caf::error& err) {
  auto m = message_of(err);
  auto colon = m.find(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

}  // namespace

void request_plan::apply_to(storage::request_spec& spec) const {
  spec.chain = chain;
  spec.host_state_from = name_of(from);
  spec.host_state_during = name_of(during);
  spec.host_state_on_success = name_of(on_success);
  spec.host_state_on_failure = name_of(on_failure);
  spec.host_state_on_withdrawal = name_of(on_withdrawal);
}

rules::rules(rules_options options) : options_(std::move(options)) {
  for (const auto& [action, steps] : workflows()) actions_.push_back(action);
}

caf::expected<request_plan> rules::plan(const std::string& action,
                                        const storage::host_record& host) const {
  auto who = "host '" + host.name + "': ";
  if (!workflows().count(action))
    return make_error(errc::invalid_argument, who + "unknown action '" + action + "'");
  request_plan p;
  p.action = action;
  p.chain = chain_of(action);
  p.needs = needs_of(action);
  if (const auto* t = transition_of(action); t && options_.lifecycle) {
    auto current = state_named(host.lifecycle_state);
    if (!current)
      return make_error(errc::invalid_state,
                        who + "unknown lifecycle state '" + host.lifecycle_state + "'");
    if (auto why = refusal(action, *t, *current))
      return make_error(errc::invalid_state, who + *why);
    p.from = current;
    p.during = t->during;
    p.on_success = t->on_success;
    p.on_failure = t->on_failure;
    // Cancelled before any job started, nothing touched the machine: it is as it was.
    if (t->during) p.on_withdrawal = current;
  }
  if (!p.needs.empty() && options_.capabilities) {
    auto offered = options_.capabilities(host);
    if (!offered) return make_error(errc::unsupported_by_bmc, who + sentence_of(offered.error()));
    auto missing = p.needs - *offered;
    if (!missing.empty())
      return make_error(errc::unsupported_by_bmc,
                        who + action + " needs " + missing.describe() +
                            ", which the host's BMC does not offer (it offers " +
                            offered->describe() + ")");
  }
  return p;
}

}  // namespace ab::lifecycle
