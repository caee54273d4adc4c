#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/bmc_handlers.hpp"
#include "config/node_config.hpp"
#include "storage/store.hpp"

namespace ab::apps {

/// What the node's BMC job types run with: the drivers (Redfish for `http(s)://` endpoints,
/// IPMI for `ipmi://`), each behind one guard shared by all workers (one operation per BMC,
/// `bmc_max_in_flight` in all, a circuit breaker per BMC), and the install settings.
/// `callback_base` answers the API base URL installers call back.
actors::bmc_context make_bmc_context(const config::node_config& cfg,
                                     std::shared_ptr<storage::store> store,
                                     std::shared_ptr<const ab::clock> clk,
                                     std::function<std::string()> callback_base);

}  // namespace ab::apps
