#pragma once

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/supervisor.hpp"
#include "config/node_config.hpp"
#include "net/api.hpp"
#include "net/http_server.hpp"
#include "storage/store.hpp"

namespace ab::apps {

/// The node's HTTP front door: the REST API service and the server that feeds it.
struct node_http {
  std::unique_ptr<net::api_service> api;
  std::unique_ptr<net::http_server> server;
};

/// Starts the REST API on `cfg.listen`; `GET /v1/node` asks the supervisor for its pools.
caf::expected<node_http> start_node_http(caf::actor_system& sys, const config::node_config& cfg,
                                         const actors::supervisor_actor& supervisor,
                                         std::shared_ptr<storage::store> store);

}  // namespace ab::apps
