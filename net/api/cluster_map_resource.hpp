#pragma once

// The cluster map resource: the site's one cluster map, read and changed through the site
// database (`config/site_cluster_map`). `GET /v1/cluster-map`, `PUT /v1/cluster-map` with
// `{"map": {...}, "if_version": N}`, `POST /v1/cluster-map/moves` with `{"node", "cluster"}`.
// The actor knows nothing of HTTP; `serve_cluster_map` is the routes' thin frontend.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "auth/authenticator.hpp"
#include "config/site_cluster_map.hpp"
#include "net/api/error.hpp"
#include "net/http/server.hpp"
#include "storage/cluster_map_store.hpp"

namespace ab::net {

struct call_context;

/// `GET /v1/cluster-map`.
struct get_cluster_map_call {
  auth::identity who;
};

/// `PUT /v1/cluster-map`: a validated map, stored if the site's map is still at `if_version`.
struct put_cluster_map_call {
  auth::identity who;
  /// The client address, for the audit trail.
  std::string source;
  config::cluster_map map;
  std::int64_t if_version = 0;
};

/// `POST /v1/cluster-map/moves`: `node` (live or not) into `cluster`.
struct move_node_call {
  auth::identity who;
  std::string source;
  std::string node;
  std::string cluster;
};

/// The site's map as it is now (after the change, for a change).
struct cluster_map_reply {
  config::site_cluster_map map;
};

/// The cluster map resource: read, replace, move a node.
using cluster_map_actor =
    caf::typed_actor<caf::replies_to<get_cluster_map_call>::with<cluster_map_reply>,
                     caf::replies_to<put_cluster_map_call>::with<cluster_map_reply>,
                     caf::replies_to<move_node_call>::with<cluster_map_reply>>;

/// What the cluster map resource checks callers against.
struct cluster_map_resource_options {
  /// The site whose map this is: `cluster.read` / `cluster.write` grants must cover it.
  std::string site;
  /// Null: the API is open.
  std::shared_ptr<auth::authenticator> auth;
};

/// Spawns the resource (detached: its store calls block) on `store`.
cluster_map_actor spawn_cluster_map_resource(caf::actor_system& sys,
                                             std::shared_ptr<storage::cluster_map_store> store,
                                             cluster_map_resource_options options);

/// Parses a `PUT /v1/cluster-map` body: 400 for what is not the body's shape, 422
/// `invalid_cluster_map` for a map `config::parse_cluster_map` refuses.
std::variant<api_error, put_cluster_map_call> parse_cluster_map_put(const std::string& body);

/// Parses a `POST /v1/cluster-map/moves` body (400 when it is not `{"node", "cluster"}`).
std::variant<api_error, move_node_call> parse_cluster_map_move(const std::string& body);

/// `{"version", "map", "changed_at_ms", "changed_by"}`.
std::string encode_cluster_map(const config::site_cluster_map& map);

/// Serves an authenticated call to one of the cluster map's routes (`route` is
/// "METHOD /pattern"): parses it, asks `to`, answers. A null `to` answers 404.
void serve_cluster_map(caf::actor_system& sys, const cluster_map_actor& to,
                       const std::string& route, const http_request& req,
                       const std::shared_ptr<call_context>& ctx, responder respond);

}  // namespace ab::net

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_cluster_map_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::put_cluster_map_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::move_node_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::cluster_map_reply)
