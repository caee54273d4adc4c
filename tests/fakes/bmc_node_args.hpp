#pragma once

// The command line of an ab-node that runs every workflow against simulated BMCs, for the
// end-to-end tests.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ab::testing {

/// The options of an ab-node that drives BMCs quickly in a test: BMC handlers, fast polling
/// and recovery, and simulated BMCs on loopback allowed (`--bmc-allow-loopback 1`).
inline std::vector<std::string> fast_bmc_options() {
  return {"--handlers",           "bmc", "--poll-interval-ms",     "20",
          "--idle-poll-max-ms",   "100", "--recovery-interval-ms", "200",
          "--bmc-allow-loopback", "1"};
}

/// Arguments of an ab-node with its embedded store in `dir`, on a free loopback port, site
/// dc1, `fast_bmc_options`, and a cluster map (written into `dir`) that gives it every action
/// — the built-in map leaves discover, build and reimage to other clusters. Tests append
/// their own options.
inline std::vector<std::string> bmc_node_args(const std::filesystem::path& dir) {
  std::ofstream(dir / "cluster-map.json")
      << R"({"clusters": {"all": {"actions": ["*"]}}, "default_cluster": "all"})";
  std::vector<std::string> args{"--store",       "sqlite:" + (dir / "node.db").string(),
                                "--listen",      "127.0.0.1:0",
                                "--site",        "dc1",
                                "--cluster-map", (dir / "cluster-map.json").string()};
  auto fast = fast_bmc_options();
  args.insert(args.end(), fast.begin(), fast.end());
  return args;
}

}  // namespace ab::testing
