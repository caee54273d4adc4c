#pragma once

// Dry runs and the limits on destructive calls: what a submission would do, host by host, the
// checks it would fail, and when it would start and end — answered without writing anything —
// and the confirmation and quota checks a real destructive submission passes first.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "auth/policy.hpp"
#include "core/clock.hpp"
#include "lifecycle/rules.hpp"
#include "net/api/codec.hpp"
#include "storage/store.hpp"

namespace ab::net {

/// One check of a dry run.
struct preflight_check {
  /// `inventory`, `policy`, `state`, `capability`, `busy`, `hold`, `pause`, `credentials`,
  /// `bmc_reachable`; for the whole call `confirmation`, `quota_per_call`, `quota_per_hour`.
  std::string name;
  bool ok = true;
  /// Why it failed, or what was found.
  std::string reason;
  /// What a failure does: `refuse` (the call or host would be refused) or `wait` (accepted, but
  /// it would not start until the cause goes: a pause).
  std::string effect = "refuse";
};

/// What a submission would do to one host.
struct host_preflight {
  std::string host;
  /// True if no check of the host (nor of the call) would refuse it.
  bool accepted = false;
  /// The job types of the chain it would create, in order.
  std::vector<std::string> chain;
  std::vector<preflight_check> checks;
  /// When it would start and end (ms since the epoch); nullopt: not before a pause is resumed.
  std::optional<time_ms> estimated_start_ms, estimated_end_ms;
};

/// The answer of a dry run.
struct preflight_report {
  std::string action;
  /// True if the call as sent would be accepted for every host.
  bool accepted = false;
  /// Checks of the call as a whole: confirmation and quotas.
  std::vector<preflight_check> checks;
  std::vector<host_preflight> hosts;
  /// How the durations were estimated: from the site's recent requests of the action, or from
  /// typical durations of its job types.
  std::string estimate_basis;
};

/// The node's probes of one host's BMC for a dry run (credentials present, BMC reachable), each
/// bounded in time; runs on a store actor and may block.
using host_probe = std::function<std::vector<preflight_check>(const storage::host_record&)>;

/// What a dry run looks at besides the submission.
struct preflight_context {
  storage::store* store = nullptr;
  const lifecycle::rules* rules = nullptr;
  const auth::identity* who = nullptr;
  /// Whether the caller may do an operation.
  std::function<auth::decision(const auth::operation&)> allowed;
  /// Whether the caller sees a host (else it is, to it, not in the inventory).
  std::function<bool(const std::string& site, const std::string& host)> visible;
  /// The caller's caps on the action, and the confirmation threshold.
  auth::caller_limits limits;
  std::int64_t confirm_above = 10;
  /// Null: BMCs are not probed.
  host_probe probe;
  /// The cluster that would run the action (a pause of it holds the work back); unset or
  /// nullopt: unknown, and cluster pauses are not shown.
  std::function<std::optional<std::string>(const std::string& action)> cluster_of;
  /// The most BMCs one dry run probes (in parallel, `probe_parallel` at a time).
  std::size_t max_probes = 256;
  std::size_t probe_parallel = 16;
  time_ms now = 0;
};

/// What `cmd` would do, without writing anything (every store call is a read).
caf::expected<preflight_report> preflight(const submit_command& cmd, const preflight_context& ctx);

/// JSON of a dry run's answer.
std::string encode_preflight(const preflight_report& r);

/// Checks a destructive submission of `cmd` by `who` before it is stored: the confirmation
/// (`api_errc::confirmation_required`), the hosts-per-call cap, then charges the hourly quota in
/// the site database (`api_errc::quota_exceeded`, nothing charged). Returns the charge's id to
/// settle once the outcome is known (0: nothing charged).
caf::expected<std::int64_t> admit_destructive(const submit_command& cmd, const auth::identity& who,
                                              const auth::caller_limits& limits,
                                              std::int64_t confirm_above,
                                              storage::quota_store& quotas, time_ms now);

}  // namespace ab::net
