#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace ab::storage {

/// Identifies a request; assigned by the store.
using request_id = std::int64_t;

/// Identifies a job: `request id × max_chain_length + position in the chain`.
using job_id = std::int64_t;

/// Request ids of one site come from their own block, `site_id * site_id_block + n`, so that
/// ids are unique across sites and `id / site_id_block` names the site.
inline constexpr std::int64_t site_id_block = 1'000'000'000'000;
/// Largest site id a node accepts.
inline constexpr std::int64_t max_site_id = 9000;

/// The most jobs one request's chain may hold.
inline constexpr int max_chain_length = 64;
static_assert((max_site_id + 1) * site_id_block <=
                  std::numeric_limits<std::int64_t>::max() / max_chain_length,
              "the job ids of the last site's last request must fit in int64");

/// Where a request is in its life; the last three are terminal.
enum class request_state { queued, running, succeeded, failed, cancelled };

/// Where a job is in its life; `done`, `failed` and `cancelled` are terminal.
enum class job_state { waiting, ready, running, parked, done, failed, cancelled };

/// Stored name of a request state.
const char* to_string(request_state x);
/// Stored name of a job state.
const char* to_string(job_state x);
/// Parses a stored request state name.
std::optional<request_state> parse_request_state(const std::string& s);
/// Parses a stored job state name.
std::optional<job_state> parse_job_state(const std::string& s);
/// True for succeeded, failed and cancelled.
bool is_terminal(request_state x);

/// One step of a request's chain as the submitter describes it.
struct job_spec {
  /// Job type; workers claim by type.
  std::string type;
  /// Attempts before the job, and with it the request, fails.
  int max_attempts = 3;
  /// Time a single attempt may run before recovery treats it as hung; 0 means no limit.
  time_ms timeout_ms = 0;
};

/// A request to act on one host, with its whole job chain.
struct request_spec {
  std::string action;
  std::string host;
  std::string site;
  /// Priority class (`maas`, `user`, `organic` by default); decides the head start in the queue.
  std::string priority_class = "user";
  std::string submitter;
  /// Optional; a second submission by the same submitter with the same key and host returns
  /// the first request (keys of different submitters never meet).
  std::string idempotency_key;
  /// Digest of what was asked; a reused key with another fingerprint is a conflict.
  std::string fingerprint;
  /// Action parameters as JSON text.
  std::string params = "{}";
  std::vector<job_spec> chain;
  /// The completion time estimated at submission (lifecycle/eta.hpp; 0: none), kept so that
  /// the estimate can be measured against the real completion.
  time_ms eta_at = 0;
  /// Host lifecycle, as the lifecycle's plan of the request sets them (`lifecycle/rules.hpp`;
  /// the store writes them, it decides none). `host_state_from`: the state the plan was made
  /// for; the store refuses the request (`errc::conflict`) if the host left it meanwhile
  /// (empty: no check). Then the host's state while the request is active, once it succeeded,
  /// once it failed or was cancelled after it started, and once it was cancelled before any
  /// job started (empty: unchanged).
  std::string host_state_from;
  std::string host_state_during;
  std::string host_state_on_success;
  std::string host_state_on_failure;
  std::string host_state_on_withdrawal;
};

/// What became of one submitted request.
struct submit_outcome {
  enum class status {
    /// Stored now.
    created,
    /// The idempotency key matched an earlier request, which `id` names.
    existing,
    /// The host has an active request, which `id` names; nothing was stored.
    host_busy,
    /// The idempotency key was used before with another fingerprint; `id` names that request.
    key_conflict,
    /// The host is on hold (`safety_store`); `reason` says whose and why; nothing was stored.
    held,
  };
  status what = status::created;
  request_id id = 0;
  /// Why the request was refused (`held`); empty otherwise.
  std::string reason = {};
};

/// A job as its worker holds it after a claim.
struct claimed_job {
  job_id id = 0;
  request_id request = 0;
  int position = 0;
  std::string type;
  std::string host;
  std::string action;
  /// 1 for the first attempt.
  int attempt = 0;
  int max_attempts = 0;
  /// Fences every later call about this job: a stale token is refused.
  std::int64_t lease_token = 0;
  /// When recovery takes the job back, or 0 for none.
  time_ms deadline = 0;
  /// Payload of the event that woke a parked job, empty otherwise.
  std::string event;
  /// Times the job was deferred (`job_queue::defer`) so far, and when the first deferral was.
  int deferrals = 0;
  time_ms deferred_since = 0;
  /// The request's site.
  std::string site = {};
  /// The request's priority class.
  std::string priority_class = {};
};

/// Which jobs a claim takes: of request actions in `only` (every action when empty), minus
/// those in `except` (a node's cluster decides them), and of hosts in `site` (a node's own
/// site; empty: every site, for tools and tests — an unfiltered claim is not index-ordered).
/// `cluster` names the claiming node's cluster, which a pause of that cluster stops (empty:
/// no cluster pause applies). Held hosts and paused sites and actions are never claimed.
struct action_filter {
  std::vector<std::string> only;
  std::vector<std::string> except;
  std::string site;
  std::string cluster;
};

/// Names a claimed job and the lease under which it is held.
struct job_lease {
  job_id id = 0;
  std::int64_t token = 0;
};

/// A finished job attempt and what it produced.
struct completion {
  job_lease job;
  /// Result as JSON text (e.g. discovered facts, erase evidence); may be empty.
  std::string result;
  /// The request's action and priority class (`claimed_job`), handed back in
  /// `complete_result::succeeded` when this job finished its request; may be empty.
  std::string action = {};
  std::string priority_class = {};
};

/// A request that reached a final state in a call, for the metrics.
struct finished_request {
  request_id id = 0;
  std::string action;
  std::string priority_class;
};

/// Answer to `complete`: which jobs were fenced out because their lease was gone.
struct complete_result {
  std::size_t completed = 0;
  std::vector<job_id> lost;
  /// The requests whose last job this call completed (they succeeded).
  std::vector<finished_request> succeeded = {};
};

/// Answer to `complete_and_claim`.
struct cycle_result {
  complete_result completed;
  std::vector<claimed_job> claimed;
};

/// Answer to `fail`.
struct fail_result {
  /// True when the job will run again; false when it, and its request, failed for good.
  bool retrying = false;
  /// Earliest time of the next attempt when retrying.
  time_ms not_before = 0;
};

/// Answer to `recover`.
struct recover_result {
  std::size_t retried = 0;
  std::size_t failed = 0;
  /// The requests that failed because of the jobs that failed.
  std::vector<finished_request> failed_requests = {};
};

/// A host on hold (maintenance): no job of it is claimed and no request for it is accepted
/// while the hold stands.
struct hold {
  std::string host;
  /// The host's site when the hold was placed (for listings narrowed by site).
  std::string site;
  /// Why, in the words of whoever placed it; submissions for the host are refused with it.
  std::string reason;
  /// Who placed it (the caller's account).
  std::string owner;
  time_ms created_at = 0;
};

/// A job as status queries show it.
struct job_view {
  job_id id = 0;
  int position = 0;
  std::string type;
  job_state state = job_state::waiting;
  int attempts = 0;
  int max_attempts = 0;
  std::string lease_owner;
  time_ms not_before = 0;
  time_ms deadline = 0;
  time_ms started_at = 0;
  time_ms finished_at = 0;
  std::string result;
  std::string error;
};

/// A request as status queries show it.
struct request_view {
  request_id id = 0;
  std::string action;
  std::string host;
  std::string site;
  std::string priority_class;
  std::string submitter;
  std::string idempotency_key;
  std::string params;
  request_state state = request_state::queued;
  std::string error;
  time_ms created_at = 0;
  time_ms started_at = 0;
  time_ms finished_at = 0;
  /// Jobs in the chain, and how many of them are done (listings count them too).
  int chain_length = 0;
  int jobs_done = 0;
  /// The completion time estimated at submission (0: none was made).
  time_ms eta_at_submission = 0;
  /// Filled by `request`, empty in listings.
  std::vector<job_view> jobs;
  /// Filled by `request` in the same snapshot (none in listings): the hold of the request's
  /// host, when it is held.
  std::optional<hold> host_hold;
  /// Filled by `request` in the same snapshot (false in listings): whether any pause is in
  /// force anywhere (`safety_store::active_pauses` says which), so that a reader asks for the
  /// pauses only when there are some.
  bool pauses_in_force = false;
};

/// Filters and cursor of a request listing; empty fields do not filter.
struct request_filter {
  std::optional<request_state> state;
  std::string host;
  std::string action;
  std::string site;
  /// Only requests created at or after this time.
  time_ms since = 0;
  /// Only requests with an id below this one (the previous page's `next_cursor`); 0 = first page.
  request_id before = 0;
  std::size_t limit = 100;
  /// Only requests of one of these sites; empty: every site (a caller's read grants narrow it).
  std::vector<std::string> sites;
};

/// One page of a request listing, newest first.
struct request_page {
  std::vector<request_view> items;
  /// Pass as `before` for the next page; 0 when this is the last page.
  request_id next_cursor = 0;
};

/// Number of unfinished jobs of one type, priority class and state.
struct queue_depth_row {
  std::string type;
  std::string priority_class;
  job_state state = job_state::ready;
  std::int64_t count = 0;
};

/// Ready jobs of one type, priority class and action, the longest any of them waits, and how
/// many jobs of them finished recently.
struct ready_jobs_row {
  std::string type;
  std::string priority_class;
  std::string action;
  std::int64_t count = 0;
  /// The earliest `not_before` among them: since then the oldest one waits (0: none is ready).
  time_ms oldest_since = 0;
  /// Jobs of the type, class and action done since the `done_since` given to
  /// `eta_store::overview` (counted for the types it names only).
  std::int64_t done = 0;
};

/// Active requests of one action and priority class in one state (queued or running), and how
/// many of them are stuck.
struct active_requests_row {
  std::string action;
  std::string priority_class;
  request_state state = request_state::queued;
  std::int64_t count = 0;
  /// Running ones with no progress (creation, start, any job started or finished) since the
  /// cut-off given to `eta_store::overview`.
  std::int64_t stuck = 0;
};

/// A site's queue at a glance (`eta_store::overview`): what the turnaround estimates and the
/// node's queue gauges both read, in one snapshot.
struct queue_overview {
  std::vector<ready_jobs_row> ready;
  std::vector<active_requests_row> active;
  /// The done jobs of `ready` by the second they finished in (`second`: its first
  /// millisecond), so that a reader that keeps a window can read only its newest seconds.
  struct done_second {
    std::string type;
    std::string priority_class;
    std::string action;
    time_ms second = 0;
    std::int64_t count = 0;
  };
  std::vector<done_second> done_seconds;
};

/// A server in the inventory.
struct host_record {
  std::string name;
  std::string site;
  std::string bmc_endpoint;
  /// Names a secret in the credential store; never the secret itself.
  std::string credential_ref;
  std::string lifecycle_state = "new";
  /// Facts found by discovery, as JSON text.
  std::string facts = "{}";
  time_ms created_at = 0;
  time_ms updated_at = 0;
  /// Where the host sits, for pacing (`pacing_policy`): its rack and its power domain, as the
  /// operator names them (empty: unknown, not paced by rack or domain).
  std::string rack = {};
  std::string power_domain = {};
};

/// Filters of a host listing; empty fields do not filter.
struct host_filter {
  std::string site;
  std::string lifecycle_state;
  /// Only hosts whose name sorts after this one (the previous page's last name).
  std::string after;
  std::size_t limit = 100;
  /// Only hosts of one of these sites; empty: every site (a caller's read grants narrow it).
  std::vector<std::string> sites;
};

/// A node in the process registry.
struct node_record {
  std::string id;
  std::string site;
  std::string cluster;
  std::string address;
  time_ms last_seen = 0;
};

/// How every lease owner of one node process begins: `NODE_ID@INCARNATION/`. A worker's owner
/// name appends its slot (`power_on#0.1`); the store tells a node's earlier incarnations from
/// the current one by this prefix.
std::string owner_prefix(const std::string& node_id, const std::string& incarnation);

/// One audit trail entry: who asked for what, from where, and what was decided.
struct audit_entry {
  std::int64_t id = 0;
  time_ms at = 0;
  std::string actor;
  std::string source;
  std::string action;
  std::string target;
  std::string decision;
  std::string detail;
};

/// The most bytes an audit entry keeps of each field; longer values are cut at a character
/// boundary and end in `truncation_marker`.
inline constexpr std::size_t audit_name_limit = 255;
inline constexpr std::size_t audit_action_limit = 128;
inline constexpr std::size_t audit_decision_limit = 32;
inline constexpr std::size_t audit_text_limit = 2048;
/// What ends a value cut short.
inline constexpr const char* truncation_marker = "…[truncated]";

/// `text` as valid UTF-8 of at most `max_bytes` bytes: invalid bytes and control characters
/// become U+FFFD, and a longer value is cut at a character boundary and ends in
/// `truncation_marker`.
std::string bounded_text(const std::string& text, std::size_t max_bytes);

/// `e` with every field bounded as the audit table stores it (`bounded_text`).
audit_entry bounded(audit_entry e);

/// A one-time token by which an outside party (an OS installer) reports on a request.
struct callback_grant {
  request_id request = 0;
  /// SHA-256 of the token, as hex; the token itself is never stored.
  std::string token_hash;
  /// The event the callback wakes (a parked job waits on it).
  std::string event_key;
  /// After this time the token is refused.
  time_ms expires_at = 0;
};

/// Filters and cursor of an audit listing.
struct audit_filter {
  std::string actor;
  time_ms since = 0;
  std::int64_t before = 0;
  std::size_t limit = 100;
};

/// How long an idempotency key is honoured at least, by default: 24 hours.
inline constexpr time_ms default_idempotency_window_ms = 24 * 60 * 60 * 1000;

/// Finished requests are kept at least this long whatever the retention says, so that an
/// Idempotency-Key is honoured for at least 24 h (docs/queue.md): pruning a request would let
/// its key create a second one. The floor is the larger of this and the queue policy's
/// `idempotency_window_ms`.
inline constexpr time_ms min_request_retention_ms = default_idempotency_window_ms;

/// How long finished requests (with their jobs, callbacks and events) and audit entries are
/// kept; 0 keeps them forever.
struct retention {
  /// At least `min_request_retention_ms` when not 0.
  time_ms requests_ms = 0;
  time_ms audit_ms = 0;
};

/// What one `prune` call removed.
struct prune_result {
  std::size_t requests = 0;
  std::size_t audit = 0;
  /// Pending events nobody took, older than the request retention.
  std::size_t events = 0;
};

/// How the claim paces destructive and power-affecting work (docs/safety.md): a request of one
/// of `actions` starts only while its host's rack, power domain and site have fewer than the
/// limit in flight (running requests of those actions), and a job of `power_on_types` starts
/// only while its site has had fewer than `power_ons_per_second` such starts in the last
/// second. A limit of 0 is no limit; a host without a rack (or power domain) is not counted in
/// one. Work over a limit waits `recheck_ms` and is looked at again, in queue order; it never
/// fails for it.
struct pacing_policy {
  std::vector<std::string> actions{"build",     "reimage",  "wipe",       "decommission",
                                   "power_off", "power_on", "ipmi_reboot"};
  int per_rack = 4;
  int per_power_domain = 8;
  int per_site = 0;
  std::vector<std::string> power_on_types{"power_on", "ipmi_reboot", "boot_installer", "boot_disk"};
  int power_ons_per_second = 20;
  time_ms recheck_ms = 1000;
};

/// Retry and priority rules the queue applies.
struct queue_policy {
  /// An idempotency key returns its request for at least this long after the request was
  /// created: nothing may delete a request younger than this (retention pruning included),
  /// so a client's retry within the window never runs the action twice.
  time_ms idempotency_window_ms = default_idempotency_window_ms;
  /// Head start of each priority class in the queue, in milliseconds of waiting.
  std::map<std::string, time_ms> class_credit_ms{
      {"maas", 30 * 60 * 1000}, {"user", 10 * 60 * 1000}, {"organic", 0}};
  /// First retry delay; doubles with each attempt, with jitter.
  time_ms backoff_base_ms = 1000;
  /// Upper bound of a retry delay.
  time_ms backoff_max_ms = 5 * 60 * 1000;
  /// Limits on destructive and power-affecting work in flight.
  pacing_policy pacing;
};

/// The oldest creation time of a request that pruning may delete under `policy` at `now`:
/// requests created after it still answer their idempotency key.
inline time_ms idempotency_horizon(const queue_policy& policy, time_ms now) {
  return now - policy.idempotency_window_ms;
}

}  // namespace ab::storage
