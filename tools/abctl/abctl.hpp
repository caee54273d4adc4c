#pragma once

// `abctl`, the operator's CLI of AutoBuild, as a library: the thin main and the tests run the
// same function.

#include <iosfwd>
#include <string>
#include <vector>

#include "tools/abctl/options.hpp"

namespace ab::abctl {

/// Where `abctl` reads and writes.
struct streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  /// True when `out` is a terminal: `watch` draws a progress bar instead of printing lines.
  bool out_is_tty = false;
};

/// Runs one invocation (arguments without the program name); returns its exit code
/// (`exit_code`).
int run(const std::vector<std::string>& args, const environment& env, streams io);

}  // namespace ab::abctl
