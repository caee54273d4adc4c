#pragma once

// The end-to-end run's invariants, checked afterwards over plain records: what the clients
// were told was accepted, what the site stores hold (requests, their jobs, the audit trail),
// and what each simulated BMC was told, in order, with the job attempt that told it. Pure
// functions of the records, so that a unit test feeds each violation and sees it caught.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ab::e2e {

/// A submission the API accepted (202, or 200 for an idempotent repeat).
struct accepted_request {
  std::int64_t id = 0;
  std::string host;
  std::string action;
};

/// One job of a stored request.
struct job_record {
  std::int64_t id = 0;
  int position = 0;
  std::string type;
  /// `waiting`, `ready`, `running`, `parked`, `done`, `failed`, `cancelled`.
  std::string state;
  int attempts = 0;
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
};

/// A request as its site's store holds it.
struct request_record {
  std::int64_t id = 0;
  std::string host;
  std::string action;
  /// `queued`, `running`, `succeeded`, `failed`, `cancelled`.
  std::string state;
  std::string error;
  std::int64_t created_at = 0;
  std::int64_t finished_at = 0;
  std::vector<job_record> jobs;
};

/// One action a simulated BMC took (ab-bmcsim's `GET /sim/actions`), in the BMC's order.
struct bmc_action_record {
  std::int64_t at = 0;
  std::string kind;
  std::string detail;
  /// `JOB_ID/CLAIM` of the attempt that sent it; "" for a caller that named none.
  std::string job;
};

/// An audited cluster-map change the run made (a remap), to be found in the site's audit.
struct expected_audit {
  std::string site;
  std::string action;
  std::string target;
};

/// Everything the checker reads.
struct run_records {
  std::vector<accepted_request> accepted;
  /// Every request of every site's store.
  std::vector<request_record> requests;
  /// BMC id (= host name) → its actions, oldest first.
  std::map<std::string, std::vector<bmc_action_record>> bmc_actions;
  /// Audit entries the run's own changes must have left (site, action, target).
  std::vector<expected_audit> audit_expected;
  /// The audit entries found: site → (action, target) pairs.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> audit_found;
  /// What the run must have exercised (`coverage`): every action of the workload, each at
  /// least once to `succeeded` among the accepted requests ...
  std::vector<std::string> actions_expected;
  /// ... and, when the installer's callbacks were lost on these hosts, at least one request
  /// of theirs that failed at its install deadline.
  std::vector<std::string> install_lost_hosts;
  /// ... and, when their installers report failures, one that failed with that report.
  std::vector<std::string> install_fail_hosts;
};

/// How the accepted requests of one action ended (`tally_actions`).
struct action_tally {
  std::size_t accepted = 0;
  std::size_t succeeded = 0;
  std::size_t failed = 0;
  std::size_t cancelled = 0;
  /// Not terminal (or not found) when the records were read.
  std::size_t other = 0;
};

/// The part of a failed request's reason that says an install's callback never came: the
/// straggler manager's words for a parked job whose deadline passed.
inline constexpr const char* install_deadline_reason = "deadline passed while waiting for an event";
/// The part of a failed request's reason that says its installer reported a failure.
inline constexpr const char* installer_failure_reason = "the installer reported a failure";

/// One broken invariant, with what shows it.
struct violation {
  /// `lost`, `unfinished`, `no_reason`, `double_run`, `out_of_order`, `two_active`,
  /// `misdirected`, `unaudited`, `callback_lost`, `never_succeeded`, `no_install_deadline`,
  /// `no_installer_failure`.
  std::string kind;
  std::string detail;
};

/// The figures of the summary line and every violation.
struct verdict {
  std::size_t accepted = 0;
  /// Accepted requests found terminal in their store.
  std::size_t terminal = 0;
  std::size_t lost = 0;
  std::size_t double_runs = 0;
  std::size_t out_of_order = 0;
  std::vector<violation> violations;
  bool ok() const { return violations.empty(); }
};

/// Checks every invariant over `records`:
/// - every accepted request is in its store (else `lost`), terminal (else `unfinished`), and
///   a failed or cancelled one says why (else `no_reason`);
/// - no job ran twice at the same time: the BMC actions of two claims of one job never
///   interleave (`double_run`), and a job's actions come from its own request's host
///   (`misdirected`);
/// - within a chain, BMC actions follow the chain's order (a later job's action never precedes
///   an earlier job's), and each job started after the one before it finished
///   (`out_of_order`);
/// - no host had two active requests: stored requests of one host never overlap in time, and
///   two requests' BMC actions on one host never interleave (`two_active`);
/// - each of the run's audited changes is in its site's audit trail (`unaudited`);
/// - no installer's callback went missing on a host whose callbacks were not lost on purpose:
///   such a host's request never failed at its install deadline (`callback_lost`; a callback
///   reaches any live node of the site, so the death of the node that started the install is
///   no excuse);
/// - the run exercised what it claims (`coverage`).
verdict check(const run_records& records);

/// Per action, how the accepted requests ended, from their stored records (an accepted id
/// counted once; one missing from `requests` counts as `other`).
std::map<std::string, action_tally> tally_actions(const std::vector<accepted_request>& accepted,
                                                  const std::vector<request_record>& requests);

/// What the run failed to exercise, as violations: an expected action none of whose accepted
/// requests succeeded (`never_succeeded`), lost callbacks that never made a request of their
/// hosts fail at its install deadline (`no_install_deadline`), and failing installers that
/// never made a request of their hosts fail with their report (`no_installer_failure`). Also
/// used while the run
/// goes, over the requests the clients saw end, to end the work period once all is covered.
std::vector<violation> coverage(const std::vector<accepted_request>& accepted,
                                const std::vector<request_record>& requests,
                                const std::vector<std::string>& actions_expected,
                                const std::vector<std::string>& install_lost_hosts,
                                const std::vector<std::string>& install_fail_hosts = {});

/// `e2e: accepted=N terminal=N lost=0 double_runs=0 out_of_order=0 faults=F`.
std::string summary_line(const verdict& v, std::size_t faults);

/// The request id of job `id` (ids are `request * 64 + position`).
std::int64_t request_of_job(std::int64_t job);

}  // namespace ab::e2e
