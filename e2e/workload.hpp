#pragma once

// The work that flows through the deployment during an end-to-end run: client threads that
// each own some hosts of every site, move them along their lifecycle (discover, build,
// reimage at `maas` priority, power off and on, reboots, wipes, now and then a cancel) with
// single and bulk submissions through HAProxy, retry a failed call with the same
// Idempotency-Key as a client should, and follow each accepted request until it ends.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/invariants.hpp"

namespace ab::e2e {

/// How the clients work.
struct workload_options {
  /// The port of the deployment's entry point (HAProxy).
  int port = 0;
  /// `Authorization` header line (with CRLF) every call carries; "" for none.
  std::string auth;
  /// Every site's hosts; client `t` of `clients` owns the hosts whose index mod `clients` is t.
  std::vector<std::string> hosts;
  /// Hosts whose lifecycle state at the start is not `new` (registered as already built):
  /// their state is read before their first submission.
  std::set<std::string> started_further;
  /// Hosts that take an installation whenever they can (a reimage when in service): those
  /// whose installer callbacks are lost, so that the loss shows within the run.
  std::set<std::string> install_hosts;
  int clients = 4;
  /// Hosts at most in one bulk submission.
  int bulk = 8;
  /// Requests a client keeps in flight at most.
  int in_flight = 40;
  /// A share of accepted requests (0..1) cancelled right after submission.
  double cancel_share = 0.03;
  std::uint64_t seed = 1;
};

/// What the clients saw, for the report.
struct workload_figures {
  std::size_t submissions = 0;
  std::size_t bulk_submissions = 0;
  std::size_t accepted = 0;
  std::size_t refused = 0;
  std::size_t cancels = 0;
  /// Calls retried after no answer, a 429 or a 5xx (with the same key).
  std::size_t retries = 0;
  /// Answers with a 5xx status, and calls that got no answer at all.
  std::size_t http_5xx = 0;
  std::size_t no_answer = 0;
  std::size_t http_429 = 0;
  /// The first few 5xx answers (`STATUS METHOD PATH: BODY`, the body cut short), to tell a
  /// fault's expected trace from a server error.
  std::vector<std::string> first_5xx;
  /// Accepted requests by action, and finished requests by final state.
  std::map<std::string, std::size_t> by_action;
  std::map<std::string, std::size_t> by_state;
  /// Accepted requests seen ending.
  std::size_t ended() const {
    std::size_t n = 0;
    for (const auto& [state, count] : by_state) n += count;
    return n;
  }
};

/// The client threads; started by the constructor, stopped by `stop_submitting` and
/// `finish`.
class workload {
 public:
  explicit workload(workload_options options);
  ~workload();
  workload(const workload&) = delete;
  workload& operator=(const workload&) = delete;

  /// No new submissions from now on; requests in flight are still followed.
  void stop_submitting();
  /// Waits up to `limit_ms` until no request is in flight, then stops the threads; true if
  /// everything ended in time.
  bool finish(std::int64_t limit_ms);
  /// Requests in flight now.
  std::size_t in_flight() const;
  /// Requests accepted so far.
  std::size_t accepted_count() const;
  /// Every accepted request.
  std::vector<accepted_request> accepted() const;
  /// The accepted requests the clients saw end, as they saw them (id, host, action, state,
  /// error; no jobs).
  std::vector<request_record> finished() const;
  workload_figures figures() const;

 private:
  struct client;
  void run(client& c);

  workload_options options_;
  std::atomic<bool> submitting_{true};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<accepted_request> accepted_;
  std::vector<request_record> finished_;
  workload_figures figures_;
  std::atomic<std::size_t> in_flight_{0};
  std::vector<std::unique_ptr<client>> clients_;
  std::vector<std::thread> threads_;
};

}  // namespace ab::e2e
