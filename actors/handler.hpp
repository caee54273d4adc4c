#pragma once

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "storage/types.hpp"

namespace ab::actors {

/// What became of one attempt at a job.
struct job_outcome {
  enum class kind {
    /// Finished; `text` is the result (JSON) or empty.
    done,
    /// Failed in a way that may pass: retried with backoff while attempts remain.
    retry,
    /// Failed for good: the request fails with `text` as the reason.
    fail,
    /// Waits for the event `text` (or until `deadline`) without holding a worker.
    park,
    /// Runs again from `deadline` without spending an attempt (a BMC's open circuit, an
    /// outage within the retry budget); `text` says why.
    defer,
  };
  kind what = kind::done;
  std::string text;
  time_ms deadline = 0;
  /// A `retry` because something outside answered "not now" (a BMC's 5xx, 429, timeout,
  /// refused or reset connection), not because the job found the world not ready.
  bool transient = false;

  static job_outcome done(std::string result = {}) { return {kind::done, std::move(result), 0}; }
  static job_outcome retry(std::string reason) { return {kind::retry, std::move(reason), 0}; }
  static job_outcome fail(std::string reason) { return {kind::fail, std::move(reason), 0}; }
  static job_outcome park(std::string event_key, time_ms deadline) {
    return {kind::park, std::move(event_key), deadline};
  }
  static job_outcome defer(std::string reason, time_ms until) {
    return {kind::defer, std::move(reason), until};
  }
  static job_outcome transient_retry(std::string reason) {
    return {kind::retry, std::move(reason), 0, true};
  }
};

/// Performs the jobs of one type. `run` may block (workers run in their own threads); an
/// exception it throws fails that attempt with the exception's message, and the job is
/// retried per its policy.
class job_handler {
 public:
  virtual ~job_handler() = default;
  /// Performs one attempt.
  virtual job_outcome run(const storage::claimed_job& job) = 0;
  /// Called instead of `run` first on a retried attempt (`job.attempt > 1`), whose earlier try
  /// may have half-happened: returns an outcome if the state of the world already settles the
  /// job (e.g. the host is already powered on), or nothing to go on with `run`.
  virtual std::optional<job_outcome> reconcile(const storage::claimed_job& job) {
    return std::nullopt;
  }
};

/// Thrown by a handler to take its whole worker down (tests of the supervisor use it to
/// simulate a crash); never caught by the worker.
class worker_crash : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Job type → handler. Filled at start-up, read-only afterwards.
class handler_registry {
 public:
  /// Registers `h` for `type`; a second registration of a type replaces the first.
  void add(const std::string& type, std::shared_ptr<job_handler> h) {
    handlers_[type] = std::move(h);
  }
  /// The handler of `type`, or null.
  std::shared_ptr<job_handler> find(const std::string& type) const {
    auto it = handlers_.find(type);
    return it == handlers_.end() ? nullptr : it->second;
  }
  /// Every registered type, sorted.
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& entry : handlers_) out.push_back(entry.first);
    return out;
  }

 private:
  std::map<std::string, std::shared_ptr<job_handler>> handlers_;
};

/// Runs one attempt of `job` with `handler`: reconcile first on a retry, exceptions (except
/// `worker_crash`) turned into retryable failures.
job_outcome run_job(job_handler& handler, const storage::claimed_job& job);

}  // namespace ab::actors
