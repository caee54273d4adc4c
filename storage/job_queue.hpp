#pragma once

// The queue's role of the store: requests and their job chains, leases, parking and callbacks.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::storage {

/// The job queue: requests and their chains of jobs, claimed by workers under leases. Every
/// call is one transaction; none throws. Whoever submits, works on, recovers or reads
/// requests needs this role of the store and no other.
class job_queue {
 public:
  virtual ~job_queue() = default;

  // --- requests -----------------------------------------------------------------------------

  /// Stores each request with its whole chain, atomically as one transaction; the first job
  /// of each becomes claimable. Outcomes come back in the order of `specs`.
  virtual caf::expected<std::vector<submit_outcome>> submit(
      const std::vector<request_spec>& specs) = 0;

  /// Cancels a queued or running request: its remaining jobs never start, a running job's
  /// lease is revoked. Returns the request's state afterwards.
  virtual caf::expected<request_state> cancel(request_id id, const std::string& reason) = 0;

  /// A request with its jobs.
  virtual caf::expected<request_view> request(request_id id) = 0;

  /// The requests of `ids` that exist, each with its jobs as `request` reads them, in no
  /// particular order (an id named twice comes once): how the API serves many GETs that came
  /// at once. This default reads them one by one; a store that can do better in one round trip
  /// overrides it.
  virtual caf::expected<std::vector<request_view>> requests_by_id(
      const std::vector<request_id>& ids);

  /// Requests matching `filter`, newest first, one page at a time.
  virtual caf::expected<request_page> requests(const request_filter& filter) = 0;

  /// Unfinished jobs counted by type, priority class and state.
  virtual caf::expected<std::vector<queue_depth_row>> queue_depth() = 0;

  // --- work ---------------------------------------------------------------------------------

  /// Claims up to `max_jobs` claimable jobs of `type` whose request's action and site pass
  /// `actions`, for `owner`, in queue order (virtual deadline, then id), each under a lease that
  /// expires after `lease_ms`.
  virtual caf::expected<std::vector<claimed_job>> claim(const std::string& owner,
                                                        const std::string& type, int max_jobs,
                                                        time_ms lease_ms,
                                                        const action_filter& actions) = 0;

  /// `claim` of any action.
  caf::expected<std::vector<claimed_job>> claim(const std::string& owner, const std::string& type,
                                                int max_jobs, time_ms lease_ms) {
    return claim(owner, type, max_jobs, lease_ms, action_filter{});
  }

  /// Marks jobs done and readies the next job of each chain in the same transaction; the last
  /// job of a chain completes its request. A job whose lease is gone is left alone and listed.
  virtual caf::expected<complete_result> complete(const std::vector<completion>& done) = 0;

  /// `complete(done)` then `claim(owner, type, max_jobs, lease_ms, actions)` in one
  /// transaction: how a busy worker hands back finished jobs and takes the next ones with one
  /// commit.
  virtual caf::expected<cycle_result> complete_and_claim(const std::vector<completion>& done,
                                                         const std::string& owner,
                                                         const std::string& type, int max_jobs,
                                                         time_ms lease_ms,
                                                         const action_filter& actions) = 0;

  /// `complete_and_claim` of any action.
  caf::expected<cycle_result> complete_and_claim(const std::vector<completion>& done,
                                                 const std::string& owner, const std::string& type,
                                                 int max_jobs, time_ms lease_ms) {
    return complete_and_claim(done, owner, type, max_jobs, lease_ms, action_filter{});
  }

  /// Records a failed attempt: retried after an exponential backoff with jitter while attempts
  /// remain and `retryable` holds, otherwise the job and its request fail with `reason`.
  virtual caf::expected<fail_result> fail(const job_lease& job, const std::string& reason,
                                          bool retryable) = 0;

  /// Hands a running job back as claimable from `not_before` without counting the attempt:
  /// it waits for something outside it (a BMC whose circuit is open, a transient outage).
  /// Counts the deferral and keeps when the first one was. `lease_lost` if no longer held.
  virtual caf::error defer(const job_lease& job, time_ms not_before, const std::string& reason) = 0;

  /// Parks a running job until its event comes or `deadline` passes; it holds no worker
  /// meanwhile. A callback redeemed for `event_key` wakes it.
  virtual caf::error park(const job_lease& job, const std::string& event_key, time_ms deadline) = 0;

  /// `park`, but when the event came first (a fast installer) the job is not handed back: it
  /// stays held with the event recorded on it (a later attempt after a crash gets it), and the
  /// event's payload is returned for the holder to go on at once. Nullopt: parked. The default
  /// parks and hands an early event back as `park` does.
  virtual caf::expected<std::optional<std::string>> park_or_take(const job_lease& job,
                                                                 const std::string& event_key,
                                                                 time_ms deadline) {
    if (auto err = park(job, event_key, deadline)) return err;
    return std::optional<std::string>{};
  }

  // --- callbacks ----------------------------------------------------------------------------

  /// Gives `grant.request` a one-time callback token (stored as its SHA-256), replacing any
  /// earlier one: a retried step hands out a fresh token and the old one stops working.
  virtual caf::error issue_callback(const callback_grant& grant) = 0;

  /// Redeems the callback token of `request` in one transaction: marks it used and wakes its
  /// event with `payload` (the job parked on it becomes claimable again, or the event waits
  /// for the job to park). `unauthenticated` when no unexpired, unused token of that request
  /// has the digest `token_hash`.
  virtual caf::error redeem_callback(request_id request, const std::string& token_hash,
                                     const std::string& payload) = 0;

  // --- leases -------------------------------------------------------------------------------

  /// Hands held jobs back as claimable at once, without counting the attempt (drain).
  virtual caf::expected<std::size_t> release(const std::vector<job_lease>& jobs) = 0;

  /// Extends to now + `lease_ms` each of the `held` leases that is still in force: its job
  /// running under that very token (fencing). A job handed back, recovered or claimed again
  /// since is left alone; returns how many were extended.
  virtual caf::expected<std::size_t> renew(const std::vector<job_lease>& held,
                                           time_ms lease_ms) = 0;

  /// Hands every job `owner` holds back as claimable at once, without counting the attempt
  /// (a draining worker that did not finish in time).
  virtual caf::expected<std::size_t> release_held(const std::string& owner) = 0;

  /// Ends the leases of every job `owner` holds now, so that recovery retries them at once
  /// (their worker crashed; what it did may have half-happened).
  virtual caf::expected<std::size_t> expire_held(const std::string& owner) = 0;

  /// Retries or fails up to `limit` jobs whose lease or deadline passed. Safe to run on
  /// several nodes at once.
  virtual caf::expected<recover_result> recover(std::size_t limit) = 0;
};

}  // namespace ab::storage
