#pragma once

// What the checker reads after a run, gathered from where it is kept: each site's store (its
// requests with their jobs, its audit trail) through the storage library, and each site's
// ab-bmcsim (`GET /sim/actions`: every action each BMC took, in order).

#include <string>
#include <vector>

#include <caf/error.hpp>

#include "e2e/invariants.hpp"

namespace ab::e2e {

/// One site to read.
struct site_source {
  std::string name;
  /// The site's store URL (`sqlite:PATH`, `mysql://...`).
  std::string store_url;
  /// The site's ab-bmcsim port.
  int bmcsim_port = 0;
};

/// Adds every request (with its jobs) and every audit entry's (action, target) of each site's
/// store, and every BMC action of each site's fleet, to `out`. An error names the site and
/// what could not be read.
caf::error collect(const std::vector<site_source>& sites, run_records& out);

/// The BMC actions of the fleet on `port`, added to `out`.
caf::error collect_bmc_actions(int port, run_records& out);

}  // namespace ab::e2e
