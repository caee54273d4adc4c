#pragma once

// The dry run's probes of a host's BMC: are its credentials in the node's credential store, and
// does its BMC answer — a real, bounded connection attempt, within the node's endpoint rules.

#include <chrono>

#include "net/api/preflight.hpp"
#include "node/bmc_access.hpp"

namespace ab::node {

/// Probes with `access`: `credentials` (the reference resolves now; nothing of the secret is
/// said), and `bmc_reachable`: the endpoint passes the node's BMC rules and a TCP connection to
/// its Redfish port opens within `timeout` (IPMI, over UDP, is not probed: said so). Blocking.
net::host_probe make_bmc_probe(bmc_access access, std::chrono::milliseconds timeout);

/// True if a TCP connection to `host`:`port` opens within `timeout` (every address of the
/// name is tried, within the one deadline); the failure's reason in `why`.
bool tcp_reachable(const std::string& host, const std::string& port,
                   std::chrono::milliseconds timeout, std::string& why);

}  // namespace ab::node
