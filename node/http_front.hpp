#pragma once

#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/supervisor.hpp"
#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "core/release.hpp"
#include "lifecycle/eta_metrics.hpp"
#include "net/api/api.hpp"
#include "net/http/server.hpp"
#include "storage/store.hpp"

namespace ab::node {

/// The node's HTTP front door: the REST API service and the server that feeds it.
/// Members are destroyed bottom-up: the server stops before the API (which stops its actors),
/// which goes before the audit trail it writes to (whose destructor writes what is queued).
struct node_http {
  /// The turnaround estimates and the thread that keeps their metrics.
  std::shared_ptr<lifecycle::eta_board> eta;
  std::unique_ptr<lifecycle::eta_metrics> eta_metrics;
  std::shared_ptr<net::audit_trail> audit;
  /// Null when the API is open (no policy configured).
  std::shared_ptr<auth::authenticator> auth;
  std::unique_ptr<net::api_service> api;
  std::unique_ptr<net::http_server> server;
};

/// Starts the REST API on `cfg.listen` with the access policy and audit trail: its resources
/// are actors (`net/api/resources.hpp`) on a store of the API's own (`cfg.api_store_pool_size`
/// connections, apart from the workers'); `GET /v1/node` asks the supervisor for its pools.
/// Submissions of an action no cluster of `map` (the map in force) serves are refused, and a
/// waiting request says why. Refuses an open API (no policy) on a non-loopback address unless
/// `cfg.allow_open_api`.
///
/// Calls from `cfg.trusted_routers` are counted and audited under the client their
/// `X-Forwarded-For` names, and are exempt from the per-peer connection cap; `add_to_report`
/// (may be empty) fills in what others know of the node (its router heartbeats).
///
/// A `release` of protocol 2 or later refuses calls of a protocol it does not speak
/// (`protocol_refusal`) and names the node and its version in every answer; one of protocol 1
/// does neither, as the releases before versioning.
caf::expected<node_http> start_node_http(caf::actor_system& sys, const config::node_config& cfg,
                                         const actors::supervisor_actor& supervisor,
                                         const std::shared_ptr<const config::live_cluster_map>& map,
                                         std::function<void(net::node_report&)> add_to_report = {},
                                         const release_info& release = this_release(""));

}  // namespace ab::node
