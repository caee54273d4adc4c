#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/handler.hpp"
#include "metrics/work_metrics.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// Claimed jobs handed to workers together: every worker told of a batch takes the next job
/// nobody has taken yet, runs it, and goes on until none is left. A pool tells each idle
/// worker of a batch that still has jobs to take, so a claimed job never waits while a worker
/// of its type is idle, and a worker runs a stream of quick jobs without a message per job.
/// Taking and finishing are safe from any thread; what only the pool touches says so.
class job_batch {
 public:
  explicit job_batch(std::vector<storage::claimed_job> jobs);

  /// Takes the next job for the worker `taker`: its index, or nothing when all are taken.
  std::optional<std::size_t> take(std::int64_t taker);
  /// Records what became of the job at `index` (its taker only) and how long it ran.
  void finish(std::size_t index, job_report report, double ms);
  /// Takes every job not taken yet (the pool gives them back): their indices.
  std::vector<std::size_t> take_rest();

  std::size_t size() const { return jobs_.size(); }
  const storage::claimed_job& job(std::size_t index) const { return jobs_[index]; }
  /// Jobs nobody has taken yet.
  std::size_t untaken() const;
  /// The worker that took the job at `index`, or -1.
  std::int64_t taker(std::size_t index) const;
  /// True once `finish` recorded the job at `index`; its report and run time may then be read.
  bool finished(std::size_t index) const;
  job_report& report(std::size_t index) { return reports_[index]; }
  double ms(std::size_t index) const { return ms_[index]; }

  /// The pool's own marks: jobs whose outcome it has collected (or given back).
  std::vector<bool> collected;

 private:
  std::vector<storage::claimed_job> jobs_;
  std::vector<job_report> reports_;
  std::vector<double> ms_;
  std::unique_ptr<std::atomic<std::int64_t>[]> takers_;
  std::unique_ptr<std::atomic<bool>[]> finished_;
  std::atomic<std::size_t> next_{0};
};

using job_batch_ptr = std::shared_ptr<job_batch>;

}  // namespace ab::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::actors::job_batch_ptr)

namespace ab::actors {

/// A worker of one job type: told of a batch (`run_atom`, the batch, its taker id), it runs
/// the batch's jobs one at a time until none is left to take, and answers how many it ran
/// (their outcomes are in the batch). A failure, a deferral or a park it records in the store
/// itself; a finished job it leaves to its pool, whose next claim commits it. Runs detached
/// (its own thread): handlers and store calls may block it, never the scheduler. A
/// `worker_crash` thrown by the handler ends it (the pool sees it go down and fails the
/// attempt it had taken).
using worker_actor =
    caf::typed_actor<caf::replies_to<run_atom, job_batch_ptr, std::int64_t>::with<int>>;

/// What a worker is told when spawned.
struct worker_config {
  /// For the log: `node@incarnation/type#slot.restart`.
  std::string name;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<job_handler> handler;
  /// The metrics of the pool's job type; null: none are kept.
  metrics::job_type_metrics* metrics = nullptr;
};

/// Spawns a detached worker.
worker_actor spawn_worker(caf::actor_system& sys, worker_config config);

}  // namespace ab::actors
