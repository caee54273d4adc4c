#include "actors/worker.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::actors {

namespace {

bool passes(const storage::action_filter& f, const std::string& action) {
  auto in = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), action) != list.end();
  };
  return (f.only.empty() || in(f.only)) && !in(f.except);
}

/// Commits finished jobs on a thread of its own as soon as it receives them (what finishes
/// during a commit goes into the next; after a store failure it tries again every
/// `after_ms`): the
/// worker blocks inside its next job, perhaps for minutes, and cannot commit meanwhile, while
/// one commit per job would cut the throughput of quick jobs tenfold (measured on SQLite with
/// ab-bench-node: ~5,000 → ~350 jobs/s).
class completion_flusher {
 public:
  completion_flusher(std::shared_ptr<storage::store> store, std::string owner, time_ms after_ms,
                     std::shared_ptr<spdlog::logger> log)
      : store_(std::move(store)),
        owner_(std::move(owner)),
        after_(after_ms),
        log_(std::move(log)) {}
  ~completion_flusher() { stop(); }
  completion_flusher(const completion_flusher&) = delete;
  completion_flusher& operator=(const completion_flusher&) = delete;

  /// Takes `done` over and commits it at once (or with the commit under way's successor).
  void add(std::vector<storage::completion>& done) {
    std::lock_guard<std::mutex> lock{mutex_};
    for (auto& d : done) pending_.push_back(std::move(d));
    done.clear();
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    changed_.notify_all();
  }

  /// Commits what is left now and ends the thread.
  void stop() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      changed_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      // Commit at once; what finishes meanwhile goes into the next commit together.
      auto batch = std::move(pending_);
      pending_.clear();
      lock.unlock();
      auto res = store_->complete(batch);
      lock.lock();
      if (!res) {
        log_->warn("{}: cannot complete {} job(s) yet: {}", owner_, batch.size(),
                   message_of(res.error()));
        if (stopping_) return;  // recovery retries them once their leases expire
        pending_.insert(pending_.begin(), batch.begin(), batch.end());
        changed_.wait_for(lock, std::chrono::milliseconds(after_), [&] { return stopping_; });
        continue;
      }
      for (auto id : res->lost)
        log_->warn("{}: job {} was no longer ours when it finished (lease lost or cancelled)",
                   owner_, id);
    }
  }

  std::shared_ptr<storage::store> store_;
  std::string owner_;
  time_ms after_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<storage::completion> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

struct worker_state {
  worker_config cfg;
  std::shared_ptr<spdlog::logger> log;
  /// Claimed jobs not started yet.
  std::deque<storage::claimed_job> pending;
  /// Finished jobs not yet handed back.
  std::vector<storage::completion> finished;
  /// Commits the jobs finished in the middle of a batch.
  std::unique_ptr<completion_flusher> flusher;
  /// Consecutive store failures, for the backoff of the next attempt.
  int store_failures = 0;
  /// Consecutive empty claims, for the idle backoff.
  int empty_claims = 0;
  bool draining = false;
  static inline const char* name = "worker";
};

using self_ptr = worker_actor::stateful_pointer<worker_state>;

/// Hands back finished jobs; keeps them for the next try if the store is unreachable.
void flush(self_ptr self) {
  auto& st = self->state;
  if (st.finished.empty()) return;
  auto res = st.cfg.store->complete(st.finished);
  if (!res) {
    st.log->warn("{}: cannot complete {} job(s) yet: {}", st.cfg.owner, st.finished.size(),
                 message_of(res.error()));
    return;
  }
  for (auto id : res->lost)
    st.log->warn("{}: job {} was no longer ours when it finished (lease lost or cancelled)",
                 st.cfg.owner, id);
  st.finished.clear();
}

/// Gives back claimed jobs that were not started (drain, or the cluster map moved them).
void release_pending(self_ptr self, const storage::action_filter* keep) {
  auto& st = self->state;
  std::vector<storage::job_lease> out;
  std::deque<storage::claimed_job> kept;
  for (auto& j : st.pending) {
    if (keep && passes(*keep, j.action))
      kept.push_back(std::move(j));
    else
      out.push_back({j.id, j.lease_token});
  }
  st.pending = std::move(kept);
  if (out.empty()) return;
  if (auto res = st.cfg.store->release(out); !res)
    st.log->warn("{}: cannot release {} job(s), recovery will: {}", st.cfg.owner, out.size(),
                 message_of(res.error()));
}

void claim_next(self_ptr self) {
  auto& st = self->state;
  if (st.cfg.clock_ok && !st.cfg.clock_ok->in_bound()) {
    // The node's clock is off the database's: take nothing until it agrees again.
    flush(self);
    self->delayed_send(self, std::chrono::milliseconds(st.cfg.idle_poll_max_ms), tick_atom::value);
    return;
  }
  auto cycle = st.cfg.store->complete_and_claim(st.finished, st.cfg.owner, st.cfg.type,
                                                st.cfg.batch, st.cfg.lease_ms, st.cfg.actions);
  if (!cycle) {
    // The store is away: try again with a growing pause; nothing is lost meanwhile.
    auto pause =
        std::min<time_ms>(st.cfg.poll_interval_ms << std::min(st.store_failures, 5), 10'000);
    if (st.store_failures++ == 0)
      st.log->warn("{}: store unavailable, retrying: {}", st.cfg.owner, message_of(cycle.error()));
    self->delayed_send(self, std::chrono::milliseconds(pause), tick_atom::value);
    return;
  }
  st.store_failures = 0;
  st.finished.clear();
  for (auto id : cycle->completed.lost)
    st.log->warn("{}: job {} was no longer ours when it finished", st.cfg.owner, id);
  if (cycle->claimed.empty()) {
    auto pause = std::min<time_ms>(st.cfg.poll_interval_ms << std::min(st.empty_claims++, 10),
                                   std::max(st.cfg.idle_poll_max_ms, st.cfg.poll_interval_ms));
    self->delayed_send(self, std::chrono::milliseconds(pause), tick_atom::value);
    return;
  }
  st.empty_claims = 0;
  for (auto& j : cycle->claimed) st.pending.push_back(std::move(j));
  self->send(self, run_atom::value);
}

void run_one(self_ptr self) {
  auto& st = self->state;
  auto job = std::move(st.pending.front());
  st.pending.pop_front();
  storage::job_lease lease{job.id, job.lease_token};
  auto outcome = run_job(*st.cfg.handler, job);  // a worker_crash escapes and ends the actor
  switch (outcome.what) {
    case job_outcome::kind::done:
      st.finished.push_back({lease, outcome.text});
      break;
    case job_outcome::kind::retry:
    case job_outcome::kind::fail: {
      auto res = st.cfg.store->fail(lease, outcome.text, outcome.what == job_outcome::kind::retry);
      if (!res)
        st.log->warn("{}: job {} of {} failed ({}) but the failure was not recorded: {}",
                     st.cfg.owner, job.id, job.host, outcome.text, message_of(res.error()));
      else
        st.log->info("{}: job {} of {} (request {}) failed, {}: {}", st.cfg.owner, job.id, job.host,
                     job.request, res->retrying ? "will retry" : "for good", outcome.text);
      break;
    }
    case job_outcome::kind::defer:
      if (auto err = st.cfg.store->defer(lease, outcome.deadline, outcome.text))
        st.log->warn("{}: job {} could not be deferred ({}): {}", st.cfg.owner, job.id,
                     outcome.text, message_of(err));
      break;
    case job_outcome::kind::park:
      if (auto err = st.cfg.store->park(lease, outcome.text, outcome.deadline))
        st.log->warn("{}: job {} could not park on {}: {}", st.cfg.owner, job.id, outcome.text,
                     message_of(err));
      break;
  }
  // A job finished in the middle of a batch is committed within the flush interval by the
  // flusher, whatever the next job does: it may run for minutes while the chain waits. (The
  // last job of a batch is committed with the next claim, in one transaction.)
  if (!st.pending.empty() && !st.finished.empty()) st.flusher->add(st.finished);
  if (!st.pending.empty())
    self->send(self, run_atom::value);
  else if (!st.draining)
    claim_next(self);
}

worker_actor::behavior_type worker(self_ptr self, worker_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.log = spdlog::get("actors");
  if (!self->state.log) self->state.log = spdlog::default_logger()->clone("actors");
  self->state.flusher =
      std::make_unique<completion_flusher>(self->state.cfg.store, self->state.cfg.owner,
                                           self->state.cfg.flush_after_ms, self->state.log);
  self->set_exception_handler([self](caf::scheduled_actor*, std::exception_ptr& eptr) {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      self->state.log->error("{}: worker crashed: {}", self->state.cfg.owner, e.what());
      return make_error(errc::crashed, e.what());
    } catch (...) {
      return make_error(errc::crashed, "a non-standard exception");
    }
  });
  self->send(self, tick_atom::value);
  return {
      [self](tick_atom) {
        if (!self->state.draining && self->state.pending.empty()) claim_next(self);
      },
      [self](run_atom) {
        // Pending is empty here only when a new action filter released what was claimed:
        // the loop of self-messages continues with the next claim.
        if (!self->state.pending.empty())
          run_one(self);
        else if (!self->state.draining)
          claim_next(self);
      },
      [self](drain_atom) {
        auto& st = self->state;
        st.draining = true;
        release_pending(self, nullptr);
        st.flusher->stop();
        flush(self);
        self->quit();
      },
      [self](filter_atom, storage::action_filter& f) {
        self->state.cfg.actions = std::move(f);
        release_pending(self, &self->state.cfg.actions);
      },
  };
}

}  // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config config) {
  return sys.spawn<caf::detached>(worker, std::move(config));
}

}  // namespace ab::actors
