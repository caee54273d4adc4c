#include "actors/worker.hpp"

#include <chrono>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::actors {

job_batch::job_batch(std::vector<storage::claimed_job> jobs)
    : collected(jobs.size(), false),
      jobs_(std::move(jobs)),
      reports_(jobs_.size()),
      ms_(jobs_.size(), 0.0),
      takers_(new std::atomic<std::int64_t>[jobs_.size()]),
      finished_(new std::atomic<bool>[jobs_.size()]) {
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    takers_[i].store(-1, std::memory_order_relaxed);
    finished_[i].store(false, std::memory_order_relaxed);
  }
}

std::optional<std::size_t> job_batch::take(std::int64_t taker) {
  auto index = next_.fetch_add(1, std::memory_order_acq_rel);
  if (index >= jobs_.size()) return std::nullopt;
  takers_[index].store(taker, std::memory_order_release);
  return index;
}

void job_batch::finish(std::size_t index, job_report report, double ms) {
  reports_[index] = std::move(report);
  ms_[index] = ms;
  finished_[index].store(true, std::memory_order_release);
}

std::vector<std::size_t> job_batch::take_rest() {
  auto from = next_.exchange(jobs_.size(), std::memory_order_acq_rel);
  std::vector<std::size_t> out;
  for (auto i = from; i < jobs_.size(); ++i) out.push_back(i);
  return out;
}

std::size_t job_batch::untaken() const {
  auto next = next_.load(std::memory_order_acquire);
  return next >= jobs_.size() ? 0 : jobs_.size() - next;
}

std::int64_t job_batch::taker(std::size_t index) const {
  return takers_[index].load(std::memory_order_acquire);
}

bool job_batch::finished(std::size_t index) const {
  return finished_[index].load(std::memory_order_acquire);
}

namespace {

struct worker_state {
  worker_config cfg;
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "worker";
};

using self_ptr = worker_actor::stateful_pointer<worker_state>;

/// Runs `job` and records what is not a plain success; a `worker_crash` escapes. A job that
/// parks on an event that came already goes on with it at once, still held (`may_take`: once).
job_report run_one(worker_state& st, const storage::claimed_job& job, bool may_take = true) {
  storage::job_lease lease{job.id, job.lease_token};
  job_report out{lease, false, {}};
  auto t0 = std::chrono::steady_clock::now();
  auto outcome = run_job(*st.cfg.handler, job);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto* m = st.cfg.metrics;
  switch (outcome.what) {
    case job_outcome::kind::done:
      out.finished = true;
      out.result = std::move(outcome.text);
      if (m) m->attempt(metrics::job_outcome::ok, seconds);
      break;
    case job_outcome::kind::retry:
    case job_outcome::kind::fail: {
      auto res = st.cfg.store->fail(lease, outcome.text, outcome.what == job_outcome::kind::retry);
      if (!res)
        st.log->warn("{}: job {} of {} failed ({}) but the failure was not recorded: {}",
                     st.cfg.name, job.id, job.host, outcome.text, message_of(res.error()));
      else
        st.log->info("{}: job {} of {} (request {}) failed, {}: {}", st.cfg.name, job.id, job.host,
                     job.request, res->retrying ? "will retry" : "for good", outcome.text);
      if (m && res) {
        m->attempt(res->retrying ? metrics::job_outcome::retried : metrics::job_outcome::failed,
                   seconds);
        if (res->retrying)
          m->retries.Increment();
        else
          metrics::request_counters::finished(job.action, job.priority_class, "failed");
      }
      break;
    }
    case job_outcome::kind::defer:
      if (auto err = st.cfg.store->defer(lease, outcome.deadline, outcome.text))
        st.log->warn("{}: job {} could not be deferred ({}): {}", st.cfg.name, job.id, outcome.text,
                     message_of(err));
      break;
    case job_outcome::kind::park: {
      if (!may_take) {
        if (auto err = st.cfg.store->park(lease, outcome.text, outcome.deadline))
          st.log->warn("{}: job {} could not park on {}: {}", st.cfg.name, job.id, outcome.text,
                       message_of(err));
        break;
      }
      auto taken = st.cfg.store->park_or_take(lease, outcome.text, outcome.deadline);
      if (!taken) {
        st.log->warn("{}: job {} could not park on {}: {}", st.cfg.name, job.id, outcome.text,
                     message_of(taken.error()));
      } else if (*taken) {
        // The event came before the job parked (a fast installer): no hand-back and claim.
        auto again = job;
        again.event = std::move(**taken);
        return run_one(st, again, false);
      }
      break;
    }
  }
  return out;
}

worker_actor::behavior_type worker(self_ptr self, worker_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.log = spdlog::get("actors");
  if (!self->state.log) self->state.log = spdlog::default_logger()->clone("actors");
  self->set_exception_handler([self](caf::scheduled_actor*, std::exception_ptr& eptr) {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      self->state.log->error("{}: worker crashed: {}", self->state.cfg.name, e.what());
      return make_error(errc::crashed, e.what());
    } catch (...) {
      return make_error(errc::crashed, "a non-standard exception");
    }
  });
  return {
      [self](run_atom, const job_batch_ptr& batch, std::int64_t taker) {
        // A crash (worker_crash) leaves the job taken and unfinished: the pool fails it.
        int ran = 0;
        while (auto index = batch->take(taker)) {
          auto t0 = std::chrono::steady_clock::now();
          auto report = run_one(self->state, batch->job(*index));
          batch->finish(
              *index, std::move(report),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count());
          ++ran;
        }
        return ran;
      },
  };
}

}  // namespace

worker_actor spawn_worker(caf::actor_system& sys, worker_config config) {
  return sys.spawn<caf::detached>(worker, std::move(config));
}

}  // namespace ab::actors
