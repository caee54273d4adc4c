#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "bmcsim/fleet.hpp"
#include "net/http/server.hpp"

namespace ab::bmc::sim {

/// What `ab-bmcsim`'s command line asks for.
struct command_line {
  /// Print the usage and exit.
  bool help = false;
  /// The fleet.
  fleet_options fleet;
  /// The listener (host, port, threads, TLS).
  net::server_options server;
};

/// Parses `ab-bmcsim`'s arguments; a bad one is an `invalid_argument` error naming it.
caf::expected<command_line> parse_command_line(const std::vector<std::string>& args);

/// The `--help` text.
std::string usage();

}  // namespace ab::bmc::sim
