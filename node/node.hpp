#pragma once

#include <signal.h>

#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "core/release.hpp"

namespace ab::node {

/// Runs a node as `cfg` and `file_map` configure it: opens the store, claims the node id,
/// checks the clock, takes the cluster map (`file_map`, the file's or the built-in one; with
/// `cfg.cluster_map_source` `database` the site database's, which `file_map` seeds when the
/// database holds none and a file was given), spawns the supervisor and the services, serves
/// the API, then waits for one of `signals` (blocked in every thread): SIGHUP reloads the
/// cluster map, the policy and the TLS certificate; SIGTERM or SIGINT drain. Returns the
/// process's exit code (1: the store or the API failed, 2: the site database's map is bad,
/// 3: the node id is taken by a live process, 4: the clock is off, 5: the site database's
/// schema was contracted past what this release can run on).
///
/// `release` is the release the node presents (its version, the protocol it speaks, the newest
/// schema it applies); empty: this build's (`this_release(AB_VERSION)`). Only a test build
/// runs a node as another release (tests/integration/previous_release_node.cpp).
int run(const config::node_config& cfg, const config::cluster_map& file_map, sigset_t signals,
        release_info release = {});

}  // namespace ab::node
