#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::storage {

/// A process's exclusive claim to its node id, held while this object lives (the lock dies
/// with the process, so a crashed node's id is free again at once).
class node_claim {
 public:
  virtual ~node_claim() = default;
  /// Checks that the claim still holds, taking it again if its database connection was lost;
  /// false when another process holds the id now (this one must stop).
  virtual bool refresh() = 0;
};

/// The site database: requests and their job chains (the queue), hosts, nodes and the audit
/// trail. Every call is one transaction; none throws. Implementations: `mysql_store`,
/// `sqlite_store`; both pass tests/storage/conformance_test.cpp.
class store {
 public:
  virtual ~store() = default;

  /// Which backend this is: `mysql` or `sqlite`.
  virtual std::string backend() const = 0;

  /// Schema version the database is at after `open`.
  virtual int schema_version() = 0;

  /// Runs a trivial query: can this process reach its database right now?
  virtual caf::error ping() = 0;

  // --- the queue --------------------------------------------------------------------------

  /// Stores each request with its whole chain, atomically as one transaction; the first job
  /// of each becomes claimable. Outcomes come back in the order of `specs`.
  virtual caf::expected<std::vector<submit_outcome>> submit(
      const std::vector<request_spec>& specs) = 0;

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

  /// Parks a running job until `wake(event_key)` or `deadline`; it holds no worker meanwhile.
  virtual caf::error park(const job_lease& job, const std::string& event_key, time_ms deadline) = 0;

  /// Makes the job parked on `event_key` claimable again, carrying `payload`; false if none.
  virtual caf::expected<bool> wake(const std::string& event_key, const std::string& payload) = 0;

  /// Gives `grant.request` a one-time callback token (stored as its SHA-256), replacing any
  /// earlier one: a retried step hands out a fresh token and the old one stops working.
  virtual caf::error issue_callback(const callback_grant& grant) = 0;

  /// Redeems the callback token of `request` in one transaction: marks it used and wakes its
  /// event with `payload`. `unauthenticated` when no unexpired, unused token of that request
  /// has the digest `token_hash`.
  virtual caf::error redeem_callback(request_id request, const std::string& token_hash,
                                     const std::string& payload) = 0;

  /// Hands held jobs back as claimable at once, without counting the attempt (drain).
  virtual caf::expected<std::size_t> release(const std::vector<job_lease>& jobs) = 0;

  /// Extends the lease of every running job that one of `owners` holds to now + `lease_ms`.
  virtual caf::expected<std::size_t> renew(const std::vector<std::string>& owners,
                                           time_ms lease_ms) = 0;

  /// Hands every job `owner` holds back as claimable at once, without counting the attempt
  /// (a draining worker that did not finish in time).
  virtual caf::expected<std::size_t> release_held(const std::string& owner) = 0;

  /// Ends the leases of every job `owner` holds now, so that recovery retries them at once
  /// (their worker crashed; what it did may have half-happened).
  virtual caf::expected<std::size_t> expire_held(const std::string& owner) = 0;

  /// Claims `node_id` for this process for as long as the returned object lives. `conflict`
  /// when a live process holds it (MySQL: `GET_LOCK` on a connection of its own; SQLite: an
  /// exclusive `flock` on a file beside the database).
  virtual caf::expected<std::unique_ptr<node_claim>> claim_node(const std::string& node_id) = 0;

  /// Ends now the leases that earlier incarnations of `node_id` hold: every lease whose owner
  /// starts with `NODE_ID@` (or, from before incarnations, `NODE_ID/`) but not with
  /// `owner_prefix(node_id, incarnation)`, so that recovery retries their jobs at once. Call
  /// only while holding `claim_node(node_id)`: then no other live process has that id.
  virtual caf::expected<std::size_t> expire_predecessors(const std::string& node_id,
                                                         const std::string& incarnation) = 0;

  /// The database's own clock (MySQL `NOW(3)`; SQLite, which is local, the store's clock), to
  /// check this node's clock against.
  virtual caf::expected<time_ms> database_time() = 0;

  /// Retries or fails up to `limit` jobs whose lease or deadline passed. Safe to run on
  /// several nodes at once.
  virtual caf::expected<recover_result> recover(std::size_t limit) = 0;

  /// Cancels a queued or running request: its remaining jobs never start, a running job's
  /// lease is revoked. Returns the request's state afterwards.
  virtual caf::expected<request_state> cancel(request_id id, const std::string& reason) = 0;

  /// A request with its jobs.
  virtual caf::expected<request_view> request(request_id id) = 0;

  /// Requests matching `filter`, newest first, one page at a time.
  virtual caf::expected<request_page> requests(const request_filter& filter) = 0;

  /// Unfinished jobs counted by type, priority class and state.
  virtual caf::expected<std::vector<queue_depth_row>> queue_depth() = 0;

  // --- inventory ----------------------------------------------------------------------------

  /// Registers hosts by name, in one transaction, all or nothing. A new host is stored whole; a
  /// known one takes the new site, BMC endpoint and credential reference and keeps its
  /// lifecycle state, facts and creation time. Changing the site, endpoint or credential of a
  /// host with an active request is refused (`host_busy`), atomically with `submit`.
  virtual caf::error put_hosts(const std::vector<host_record>& hosts) = 0;

  /// One host by name.
  virtual caf::expected<host_record> host(const std::string& name) = 0;

  /// Hosts matching `filter`, by name.
  virtual caf::expected<std::vector<host_record>> hosts(const host_filter& filter) = 0;

  /// The hosts of `names` that are in the inventory, in one read (names not found are left
  /// out; order is unspecified).
  virtual caf::expected<std::vector<host_record>> find_hosts(
      const std::vector<std::string>& names) = 0;

  /// Moves a host to `to` if it is in `from` (empty `from`: any state).
  virtual caf::error set_host_state(const std::string& name, const std::string& from,
                                    const std::string& to) = 0;

  /// Replaces a host's discovered facts (JSON text).
  virtual caf::error set_host_facts(const std::string& name, const std::string& facts) = 0;

  /// Removes a host; refused while it has an active request.
  virtual caf::error delete_host(const std::string& name) = 0;

  // --- nodes and audit ----------------------------------------------------------------------

  /// Records that a node is alive now (insert or update).
  virtual caf::error heartbeat(const node_record& node) = 0;

  /// Every known node of the site database.
  virtual caf::expected<std::vector<node_record>> nodes() = 0;

  /// Appends to the audit trail; returns the entry's id.
  virtual caf::expected<std::int64_t> audit(const audit_entry& entry) = 0;

  /// Appends many entries to the audit trail in one transaction.
  virtual caf::error audit(const std::vector<audit_entry>& entries) = 0;

  /// Audit entries matching `filter`, newest first.
  virtual caf::expected<std::vector<audit_entry>> audit_log(const audit_filter& filter) = 0;

  /// Deletes, oldest first and at most `limit` of each kind, finished requests that finished
  /// more than `keep.requests_ms` ago (never less than `min_request_retention_ms`) with their
  /// jobs, callback tokens and pending events; pending events that old; and audit entries
  /// older than `keep.audit_ms`. A retention of 0 keeps that kind forever. Active requests are
  /// never touched. Call again while full batches come back.
  virtual caf::expected<prune_result> prune(const retention& keep, std::size_t limit) = 0;
};

/// How to reach a store: `sqlite:PATH` or `mysql://USER:PASS@HOST:PORT/DB`.
struct store_options {
  std::string url;
  /// Connections in the pool (MySQL).
  std::size_t pool_size = 8;
  queue_policy policy;
};

/// Opens the store `options.url` names and brings its schema up to date.
caf::expected<std::unique_ptr<store>> open_store(const store_options& options,
                                                 std::shared_ptr<const ab::clock> clk);

}  // namespace ab::storage
