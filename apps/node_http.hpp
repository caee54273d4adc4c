#pragma once

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/supervisor.hpp"
#include "config/node_config.hpp"
#include "net/http_server.hpp"
#include "storage/store.hpp"

namespace ab::apps {

/// Starts the node's HTTP listener on `cfg.listen`. Until the REST API lands it answers
/// `GET /healthz` (the process is alive) and `GET /v1/node` (this node: id, site, cluster,
/// worker pools, restarts); everything else is a JSON 404.
caf::expected<std::unique_ptr<net::http_server>> start_node_http(
    caf::actor_system& sys, const config::node_config& cfg, actors::supervisor_actor supervisor,
    std::shared_ptr<storage::store> store);

}  // namespace ab::apps
