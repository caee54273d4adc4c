#pragma once

// The end-to-end run (docs/e2e.md): a two-site deployment on loopback, work flowing through
// HAProxy while faults are injected, then the invariants checked over what the stores and the
// simulated BMCs recorded. `ab-e2e` is its command line.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace ab::e2e {

/// The run's size and where things are.
struct scenario_options {
  /// The full size (thousands of hosts, Galera) instead of the bounded smoke size.
  bool full = false;
  /// Each site's database is a Galera cluster (implied by `full`).
  bool galera = false;
  /// Hosts per site (0: 150 for the smoke, 2000 for the full size).
  std::size_t hosts = 0;
  /// The shortest work period, in seconds (0: 20 for the smoke, 120 for the full size); work
  /// goes on, up to 2.5 times that (3 in the full size), until every action of the workload
  /// has been seen succeeding and a lost callback has failed a request.
  int seconds = 0;
  /// Client threads (0: 8).
  int clients = 0;
  std::uint64_t seed = 1;
  /// Where ab-node, ab-router and ab-bmcsim are, and the checkout.
  std::string binary_dir;
  std::string source_dir;
  /// The run's directory ("": a fresh one under the temp directory, removed unless `keep`
  /// or the run failed).
  std::string dir;
  bool keep = false;
  bool help = false;
};

/// Parses ab-e2e's arguments (`--full`, `--galera`, `--hosts N`, `--seconds S`,
/// `--clients N`, `--seed N`, `--dir D`, `--keep`, `--binary-dir D`, `--source-dir D`,
/// `--help`).
caf::expected<scenario_options> parse_arguments(const std::vector<std::string>& args);

/// ab-e2e's usage text.
std::string usage();

/// Runs the scenario, printing its progress, figures and violations to `out`, ending with the
/// summary line; returns the exit code (0 only when every invariant held).
int run_scenario(const scenario_options& options, std::ostream& out);

}  // namespace ab::e2e
