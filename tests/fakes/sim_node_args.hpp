#pragma once

// The command line of an ab-node with simulated handlers, for the multi-process tests that
// run work through several nodes on one site database.

#include <string>
#include <vector>

namespace ab::testing {

/// Arguments of node `id` of site dc1 on `store`, on a free loopback port, with simulated
/// handlers. Tests append their own options (`sim_work_args`, ...).
inline std::vector<std::string> simulated_node_args(const std::string& store,
                                                    const std::string& id) {
  return {"--store", store,    "--listen", "127.0.0.1:0", "--node-id",
          id,        "--site", "dc1",      "--handlers",  "simulated"};
}

/// How a test's simulated node works: its steps, leases, recovery and polling, short.
struct sim_work_options {
  /// The attempts log every step appends to (tests/fakes/attempts_log.hpp).
  std::string sim_log;
  int step_ms = 50;
  int lease_ms = 2000;
  int renew_interval_ms = 500;
  int recovery_interval_ms = 200;
  int heartbeat_interval_ms = 500;
  int claim_batch = 4;
};

/// The options of `o`, with fast polling and a store pool of 4.
inline std::vector<std::string> sim_work_args(const sim_work_options& o) {
  auto n = [](int v) { return std::to_string(v); };
  return {"--sim-log",
          o.sim_log,
          "--sim-step-ms",
          n(o.step_ms),
          "--lease-ms",
          n(o.lease_ms),
          "--renew-interval-ms",
          n(o.renew_interval_ms),
          "--recovery-interval-ms",
          n(o.recovery_interval_ms),
          "--poll-interval-ms",
          "20",
          "--idle-poll-max-ms",
          "200",
          "--heartbeat-interval-ms",
          n(o.heartbeat_interval_ms),
          "--claim-batch",
          n(o.claim_batch),
          "--store-pool-size",
          "4"};
}

}  // namespace ab::testing
