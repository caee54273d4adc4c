#pragma once

// Limits on the blast radius of one call: which actions are destructive, and the confirmation a
// destructive bulk call must carry.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ab::lifecycle {

/// The default of `confirm_above`: a destructive call on more hosts must confirm their count.
inline constexpr std::int64_t default_confirm_above = 10;

/// True for an action that takes a host out of service or destroys what is on it: `reimage`,
/// `wipe`, `decommission`, `power_off` and `ipmi_reboot` (a power cycle). Quotas and
/// confirmations apply to these.
bool destructive(std::string_view action);

/// Why a call of `action` on `hosts` hosts that confirmed `confirmed` (nullopt: no
/// `confirm_hosts`) is refused, or nullopt if it needs no confirmation or carries the right one.
/// A destructive call on more than `confirm_above` hosts must confirm exactly its host count.
std::optional<std::string> confirmation_refusal(const std::string& action, std::int64_t hosts,
                                                std::optional<std::int64_t> confirmed,
                                                std::int64_t confirm_above);

}  // namespace ab::lifecycle
