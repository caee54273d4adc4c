#pragma once

// A store decorator that counts and watches the queue's claims, for tests of how the node's
// pools poll: every call goes on to the store it wraps.

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "core/error.hpp"
#include "storage/store.hpp"

namespace ab::testing {

/// Forwards every call to `inner`; records each claim (`claim`, `complete_and_claim`) by job
/// type: how many, by how many owners, and how many ran at the same time at most.
class counting_store final : public storage::store {
 public:
  explicit counting_store(storage::store& inner) : inner_(inner) {}

  /// Claims of `type` so far.
  int claims(const std::string& type) const {
    std::lock_guard<std::mutex> lock{mutex_};
    return static_cast<int>(std::count(types_.begin(), types_.end(), type));
  }
  /// Distinct lease owners that claimed `type`.
  std::size_t owners(const std::string& type) const {
    std::lock_guard<std::mutex> lock{mutex_};
    std::set<std::string> out;
    for (const auto& [t, o] : owners_)
      if (t == type) out.insert(o);
    return out.size();
  }
  /// The most claims that were under way at once.
  int max_concurrent_claims() const { return max_in_flight_.load(); }
  /// Lease renewals so far.
  int renewals() const { return renewals_.load(); }
  /// Called by every claim, with its job type, before it goes on to the store (set before the
  /// store is shared): a test may hold a claim there.
  std::function<void(const std::string& type)> before_claim;
  /// The next this many `fail` calls answer `store_unavailable` without reaching the store.
  std::atomic<int> lost_failures{0};

  std::string backend() const override { return inner_.backend(); }
  caf::error ping() override { return inner_.ping(); }
  caf::expected<std::vector<storage::submit_outcome>> submit(
      const std::vector<storage::request_spec>& specs) override {
    return inner_.submit(specs);
  }
  caf::expected<std::vector<storage::claimed_job>> claim(
      const std::string& owner, const std::string& type, int max_jobs, time_ms lease_ms,
      const storage::action_filter& actions) override {
    watch w{*this, owner, type};
    if (before_claim) before_claim(type);
    return inner_.claim(owner, type, max_jobs, lease_ms, actions);
  }
  caf::expected<storage::complete_result> complete(
      const std::vector<storage::completion>& done) override {
    return inner_.complete(done);
  }
  caf::expected<storage::cycle_result> complete_and_claim(
      const std::vector<storage::completion>& done, const std::string& owner,
      const std::string& type, int max_jobs, time_ms lease_ms,
      const storage::action_filter& actions) override {
    watch w{*this, owner, type};
    if (before_claim) before_claim(type);
    return inner_.complete_and_claim(done, owner, type, max_jobs, lease_ms, actions);
  }
  caf::expected<storage::fail_result> fail(const storage::job_lease& job, const std::string& reason,
                                           bool retryable) override {
    // An outage that outlasts the store's retries: the failure is not recorded.
    if (lost_failures.load() > 0 && lost_failures.fetch_sub(1) > 0)
      return make_error(errc::store_unavailable, "the database is away (injected)");
    return inner_.fail(job, reason, retryable);
  }
  caf::error defer(const storage::job_lease& job, time_ms not_before,
                   const std::string& reason) override {
    return inner_.defer(job, not_before, reason);
  }
  caf::error park(const storage::job_lease& job, const std::string& event_key,
                  time_ms deadline) override {
    return inner_.park(job, event_key, deadline);
  }
  caf::error issue_callback(const storage::callback_grant& grant) override {
    return inner_.issue_callback(grant);
  }
  caf::error redeem_callback(storage::request_id request, const std::string& token_hash,
                             const std::string& payload) override {
    return inner_.redeem_callback(request, token_hash, payload);
  }
  caf::expected<std::size_t> release(const std::vector<storage::job_lease>& jobs) override {
    return inner_.release(jobs);
  }
  caf::expected<std::size_t> renew(const std::vector<storage::job_lease>& held,
                                   time_ms lease_ms) override {
    ++renewals_;
    return inner_.renew(held, lease_ms);
  }
  caf::expected<std::size_t> release_held(const std::string& owner) override {
    return inner_.release_held(owner);
  }
  caf::expected<std::size_t> expire_held(const std::string& owner) override {
    return inner_.expire_held(owner);
  }
  caf::expected<std::unique_ptr<storage::node_claim>> claim_node(const std::string& node_id,
                                                                 const std::string& incarnation,
                                                                 time_ms ttl_ms) override {
    return inner_.claim_node(node_id, incarnation, ttl_ms);
  }
  caf::expected<std::size_t> expire_predecessors(const std::string& node_id,
                                                 const std::string& incarnation) override {
    return inner_.expire_predecessors(node_id, incarnation);
  }
  caf::expected<time_ms> database_time() override { return inner_.database_time(); }
  caf::expected<storage::recover_result> recover(std::size_t limit) override {
    return inner_.recover(limit);
  }
  caf::expected<storage::request_state> cancel(storage::request_id id,
                                               const std::string& reason) override {
    return inner_.cancel(id, reason);
  }
  caf::expected<storage::request_view> request(storage::request_id id) override {
    return inner_.request(id);
  }
  caf::expected<storage::request_page> requests(const storage::request_filter& filter) override {
    return inner_.requests(filter);
  }
  caf::expected<std::vector<storage::queue_depth_row>> queue_depth() override {
    return inner_.queue_depth();
  }
  caf::expected<storage::queue_overview> overview(const std::string& site, time_ms stuck_before,
                                                  const std::vector<std::string>& types,
                                                  time_ms done_since) override {
    return inner_.overview(site, stuck_before, types, done_since);
  }
  caf::error put_hosts(const std::vector<storage::host_record>& hosts) override {
    return inner_.put_hosts(hosts);
  }
  caf::expected<storage::host_record> host(const std::string& name) override {
    return inner_.host(name);
  }
  caf::expected<std::vector<storage::host_record>> hosts(
      const storage::host_filter& filter) override {
    return inner_.hosts(filter);
  }
  caf::expected<std::vector<storage::host_record>> find_hosts(
      const std::vector<std::string>& names) override {
    return inner_.find_hosts(names);
  }
  caf::error set_host_facts(const std::string& name, const std::string& facts) override {
    return inner_.set_host_facts(name, facts);
  }
  caf::error delete_host(const std::string& name) override { return inner_.delete_host(name); }
  caf::error heartbeat(const storage::node_record& node) override { return inner_.heartbeat(node); }
  caf::expected<std::vector<storage::node_record>> nodes() override { return inner_.nodes(); }
  caf::expected<std::int64_t> cluster_map_version() override {
    return inner_.cluster_map_version();
  }
  caf::expected<storage::cluster_map_document> read_cluster_map() override {
    return inner_.read_cluster_map();
  }
  caf::expected<storage::cluster_map_document> change_cluster_map(
      const storage::cluster_map_change& change) override {
    return inner_.change_cluster_map(change);
  }
  caf::expected<storage::quota_result> charge_quota(const storage::quota_charge& c) override {
    return inner_.charge_quota(c);
  }
  caf::error settle_quota(std::int64_t id, std::int64_t hosts) override {
    return inner_.settle_quota(id, hosts);
  }
  caf::expected<std::int64_t> quota_used(const std::string& subject) override {
    return inner_.quota_used(subject);
  }
  caf::expected<storage::wave_id> create_wave(const storage::wave_record& w) override {
    return inner_.create_wave(w);
  }
  caf::expected<storage::wave_record> wave(storage::wave_id id) override { return inner_.wave(id); }
  caf::expected<std::vector<storage::wave_record>> waves(const storage::wave_filter& f) override {
    return inner_.waves(f);
  }
  caf::expected<bool> update_wave(const storage::wave_record& w,
                                  const std::vector<storage::wave_host>& hosts) override {
    return inner_.update_wave(w, hosts);
  }
  caf::expected<bool> stop_wave(storage::wave_id id, const std::string& reason) override {
    return inner_.stop_wave(id, reason);
  }
  caf::expected<bool> take_wave_lease(const std::string& owner, time_ms lease_ms) override {
    return inner_.take_wave_lease(owner, lease_ms);
  }
  caf::expected<std::vector<storage::hold>> holds_of(
      const std::vector<std::string>& hosts) override {
    return inner_.holds_of(hosts);
  }
  caf::expected<std::vector<storage::hold>> holds(const storage::hold_filter& filter) override {
    return inner_.holds(filter);
  }
  caf::expected<storage::hold> place_hold(const storage::hold& h,
                                          const std::string& source) override {
    return inner_.place_hold(h, source);
  }
  caf::expected<storage::hold> lift_hold(const std::string& host,
                                         const storage::safety_actor& by) override {
    return inner_.lift_hold(host, by);
  }
  caf::expected<std::vector<storage::pause>> active_pauses() override {
    return inner_.active_pauses();
  }
  caf::expected<storage::pause> place_pause(const storage::pause& p,
                                            const std::string& source) override {
    return inner_.place_pause(p, source);
  }
  caf::expected<storage::pause> resume(const std::string& scope, const std::string& target,
                                       const storage::safety_actor& by) override {
    return inner_.resume(scope, target, by);
  }
  caf::expected<std::int64_t> audit(const storage::audit_entry& entry) override {
    return inner_.audit(entry);
  }
  caf::error audit(const std::vector<storage::audit_entry>& entries) override {
    return inner_.audit(entries);
  }
  caf::expected<std::vector<storage::audit_entry>> audit_log(
      const storage::audit_filter& filter) override {
    return inner_.audit_log(filter);
  }
  caf::expected<storage::prune_result> prune(const storage::retention& keep,
                                             std::size_t limit) override {
    return inner_.prune(keep, limit);
  }

 private:
  /// Records one claim for as long as it runs.
  struct watch {
    watch(counting_store& s, const std::string& owner, const std::string& type) : s_(s) {
      {
        std::lock_guard<std::mutex> lock{s_.mutex_};
        s_.types_.push_back(type);
        s_.owners_.insert({type, owner});
      }
      auto now = ++s_.in_flight_;
      auto seen = s_.max_in_flight_.load();
      while (now > seen && !s_.max_in_flight_.compare_exchange_weak(seen, now)) {
      }
    }
    ~watch() { --s_.in_flight_; }
    watch(const watch&) = delete;
    watch& operator=(const watch&) = delete;
    counting_store& s_;
  };

  storage::store& inner_;
  mutable std::mutex mutex_;
  std::vector<std::string> types_;
  std::set<std::pair<std::string, std::string>> owners_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::atomic<int> renewals_{0};
};

}  // namespace ab::testing
