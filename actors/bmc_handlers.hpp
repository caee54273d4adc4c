#pragma once

// The job types of the lifecycle workflows (lifecycle/workflows.cpp), performed through the BMC
// layer's capability interfaces. Each step first checks that the host's driver offers the
// interfaces its job type needs (`lifecycle::job_types`), and fails at once naming what is
// missing. Every step is idempotent or reconciles first on a retried attempt, so a step that
// is retried or recovered never does harm.

#include <functional>
#include <memory>
#include <string>

#include "actors/handler.hpp"
#include "bmc/credential_store.hpp"
#include "bmc/driver.hpp"
#include "bmc/driver_factory.hpp"
#include "bmc/endpoint_policy.hpp"
#include "core/clock.hpp"
#include "storage/store.hpp"

namespace ab::actors {

/// What the BMC job types need.
struct bmc_context {
  std::shared_ptr<storage::store> store;
  /// The drivers by a host's BMC endpoint (`ipmi://…` → IPMI, `http(s)://…` → Redfish).
  std::shared_ptr<const bmc::driver_resolver> drivers;
  std::shared_ptr<const ab::clock> clk;
  /// Where hosts' credential references resolve; read at every step, so a rotated
  /// credential takes effect on the next job.
  std::shared_ptr<const bmc::credential_store> credentials;
  /// Checked on every connection to a BMC (null: nothing is checked).
  std::shared_ptr<const bmc::endpoint_policy> endpoints;
  /// Where installers report: this node's (or the site's) API base URL, e.g.
  /// `https://autobuild.dc1:8443`; the callback URL is BASE/v1/callbacks/REQUEST. A function:
  /// a node knows its port only once it listens.
  std::function<std::string()> callback_base;
  /// The installer image; the boot step inserts it as virtual CD with the callback URL and a
  /// one-time token appended as query parameters (`?callback=…&token=…`).
  std::string installer_image;
  /// How long an installation may take before its request fails.
  time_ms install_timeout_ms = 90 * 60 * 1000;
  /// Deadline of one BMC exchange.
  std::chrono::milliseconds bmc_timeout{10000};
  /// Transient BMC errors (5xx, 429, timeouts, refused or reset connections) defer a step
  /// without spending an attempt, after `bmc_retry_base_ms × 2^deferrals` (capped at
  /// `bmc_retry_max_ms`, with jitter), until `bmc_retry_budget_ms` after the first of them;
  /// past the budget each one spends an attempt. A BMC whose circuit is open defers the step
  /// until the circuit half-opens, whatever the budget.
  time_ms bmc_retry_base_ms = 2000;
  time_ms bmc_retry_max_ms = 60000;
  time_ms bmc_retry_budget_ms = 10 * 60 * 1000;
  /// TLS toward BMCs: a CA bundle, or no verification at all (labs only).
  std::string bmc_ca_file;
  bool bmc_insecure = false;
};

/// Registers `power_on`, `power_off`, `ipmi_reboot`, `inventory`, `record_facts`,
/// `boot_installer`, `install`, `boot_disk`, `verify`, `erase` and `retire`.
void register_bmc_handlers(handler_registry& registry, const bmc_context& context);

}  // namespace ab::actors
