#include "apps/node_bmc.hpp"

#include "bmc/driver_factory.hpp"
#include "bmc/guard.hpp"

namespace ab::apps {

namespace {

/// The driver behind `name`, guarded; null if it is not built in.
std::shared_ptr<bmc::driver> guarded(const std::string& name, const config::node_config& cfg,
                                     const std::shared_ptr<const ab::clock>& clk) {
  auto d = bmc::make_driver(name);
  if (!d) return nullptr;
  bmc::guard_options g;
  g.max_in_flight = static_cast<std::size_t>(cfg.bmc_max_in_flight);
  g.failures_to_open = cfg.bmc_breaker_failures;
  g.open_for = std::chrono::milliseconds{cfg.bmc_breaker_open_ms};
  // The guard keeps a reference to the clock: the lambda below keeps the clock alive.
  return std::shared_ptr<bmc::driver>(
      new bmc::guarded_driver(std::shared_ptr<bmc::driver>(std::move(*d)), g, *clk),
      [clk](bmc::driver* p) { delete p; });
}

}  // namespace

actors::bmc_context make_bmc_context(const config::node_config& cfg,
                                     std::shared_ptr<storage::store> store,
                                     std::shared_ptr<const ab::clock> clk,
                                     std::function<std::string()> callback_base) {
  actors::bmc_context c;
  auto redfish = guarded("redfish", cfg, clk);
  auto ipmi = guarded("ipmi", cfg, clk);
  c.driver_for = [redfish, ipmi](const std::string& endpoint) -> std::shared_ptr<bmc::driver> {
    if (endpoint.rfind("https://", 0) == 0 || endpoint.rfind("http://", 0) == 0) return redfish;
    if (endpoint.rfind("ipmi://", 0) == 0) return ipmi;
    return nullptr;
  };
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

}  // namespace ab::apps
