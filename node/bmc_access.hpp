#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/bmc_handlers.hpp"
#include "bmc/driver_factory.hpp"
#include "config/node_config.hpp"
#include "storage/store.hpp"

namespace ab::node {

/// The node's BMC access rules: its credential store, its endpoint policy, and its drivers
/// by endpoint (asked what a host's BMC can do; the workers' guarded drivers are apart).
struct bmc_access {
  std::shared_ptr<const bmc::credential_store> credentials;
  std::shared_ptr<const bmc::endpoint_policy> endpoints;
  std::shared_ptr<const bmc::driver_resolver> drivers;
};

/// The rules `cfg` configures (credentials-dir, credential-env-prefix, bmc-networks,
/// bmc-allow-loopback). With `prepare`, the credentials directory is created if missing and
/// refused (`errc::bad_config`) when it is not private.
caf::expected<bmc_access> make_bmc_access(const config::node_config& cfg, bool prepare = false);

/// Why the API must refuse to register `host` (its credential reference or BMC endpoint
/// breaks the rules of `access`), or nullopt.
std::optional<std::string> host_refusal(const bmc_access& access, const storage::host_record& host);

/// What the BMC of `host` can do: what its endpoint's driver can ever do, less what the
/// host's last discovery found its BMC lacks (its facts' `bmc_lacks`).
caf::expected<bmc::capability_set> host_capabilities(const bmc_access& access,
                                                     const storage::host_record& host);

/// What the node's BMC job types run with: the drivers (Redfish for `http(s)://` endpoints,
/// IPMI for `ipmi://`), each behind one guard shared by all workers (one operation per BMC,
/// `bmc_max_in_flight` in all, a circuit breaker per BMC), and the install settings.
/// `callback_base` answers the API base URL installers call back.
actors::bmc_context make_bmc_context(const config::node_config& cfg,
                                     std::shared_ptr<storage::store> store,
                                     std::shared_ptr<const ab::clock> clk,
                                     std::function<std::string()> callback_base);

}  // namespace ab::node
