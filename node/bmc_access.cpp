#include "node/bmc_access.hpp"

#include "bmc/guard.hpp"
#include "core/error.hpp"

namespace ab::node {

namespace {

/// `d` behind a guard of the limits `cfg` sets.
std::shared_ptr<bmc::driver> guarded(std::shared_ptr<bmc::driver> d, const config::node_config& cfg,
                                     const std::shared_ptr<const ab::clock>& clk) {
  bmc::guard_options g;
  g.max_in_flight = static_cast<std::size_t>(cfg.bmc_max_in_flight);
  g.failures_to_open = cfg.bmc_breaker_failures;
  g.open_for = std::chrono::milliseconds{cfg.bmc_breaker_open_ms};
  // The guard keeps a reference to the clock: the lambda below keeps the clock alive.
  return std::shared_ptr<bmc::driver>(new bmc::guarded_driver(std::move(d), g, *clk),
                                      [clk](bmc::driver* p) { delete p; });
}

}  // namespace

caf::expected<bmc_access> make_bmc_access(const config::node_config& cfg, bool prepare) {
  bmc::credential_store_options co;
  co.directory = cfg.credentials_dir;
  co.env_prefix = cfg.credential_env_prefix;
  auto credentials = std::make_shared<const bmc::credential_store>(co);
  if (prepare)
    if (auto err = credentials->prepare()) return err;
  bmc::endpoint_options eo;
  eo.networks = cfg.bmc_networks;
  eo.allow_loopback = cfg.bmc_allow_loopback;
  auto endpoints = bmc::endpoint_policy::make(eo);
  if (!endpoints) return std::move(endpoints.error());
  return bmc_access{std::move(credentials), std::move(*endpoints),
                    bmc::driver_resolver::standard()};
}

caf::expected<bmc::capability_set> host_capabilities(const bmc_access& access,
                                                     const storage::host_record& host) {
  auto offered = access.drivers->capabilities_of(host.bmc_endpoint);
  if (!offered) return offered;
  return *offered - bmc::lacks_in_facts(host.facts);
}

std::optional<std::string> host_refusal(const bmc_access& access,
                                        const storage::host_record& host) {
  if (auto err = access.endpoints->check(host.bmc_endpoint)) return message_of(err);
  if (auto err = access.credentials->validate(host.credential_ref)) return message_of(err);
  return std::nullopt;
}

actors::bmc_context make_bmc_context(const config::node_config& cfg,
                                     std::shared_ptr<storage::store> store,
                                     std::shared_ptr<const ab::clock> clk,
                                     std::function<std::string()> callback_base) {
  actors::bmc_context c;
  // One guard per driver, shared by all workers; it wraps each of the driver's interfaces.
  bmc::redfish_options redfish;
  redfish.session_idle = std::chrono::milliseconds{cfg.bmc_session_idle_ms};
  redfish.max_sessions = static_cast<std::size_t>(cfg.bmc_max_sessions);
  c.drivers = bmc::driver_resolver::standard(
      [&](std::shared_ptr<bmc::driver> d) { return guarded(std::move(d), cfg, clk); }, redfish);
  // The configuration was validated at start-up; these cannot fail.
  auto access = make_bmc_access(cfg);
  if (access) {
    c.credentials = access->credentials;
    c.endpoints = access->endpoints;
  }
  c.store = std::move(store);
  c.clk = std::move(clk);
  c.callback_base = std::move(callback_base);
  c.installer_image = cfg.installer_image;
  c.install_timeout_ms = cfg.install_timeout_ms;
  c.bmc_timeout = std::chrono::milliseconds{cfg.bmc_timeout_ms};
  c.bmc_retry_base_ms = cfg.bmc_retry_base_ms;
  c.bmc_retry_max_ms = cfg.bmc_retry_max_ms;
  c.bmc_retry_budget_ms = cfg.bmc_retry_budget_ms;
  c.bmc_ca_file = cfg.bmc_ca_file;
  c.bmc_insecure = cfg.bmc_insecure;
  return c;
}

}  // namespace ab::node
