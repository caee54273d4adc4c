#pragma once

#include <signal.h>

#include "router/router_config.hpp"

namespace ab::router {

/// Runs a router as `cfg` says: reads the heartbeat secret, starts the node table, the client
/// toward the nodes and the listener, prints `listening on http(s)://HOST:PORT`, then waits
/// for one of `signals` (blocked in every thread): SIGHUP reloads the TLS certificate and the
/// heartbeat secret, SIGTERM or SIGINT stop. Returns the exit code (1: it could not start).
int run(const router_config& cfg, sigset_t signals);

}  // namespace ab::router
