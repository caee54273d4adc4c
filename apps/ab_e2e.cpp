// ab-e2e: the end-to-end proof (docs/e2e.md). A two-site deployment on loopback, faults while
// work flows, the invariants checked afterwards; exits 1 on any violation.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "e2e/scenario.hpp"

int main(int argc, char** argv) {
  auto o = ab::e2e::parse_arguments(std::vector<std::string>(argv + 1, argv + argc));
  if (!o) {
    std::cerr << "ab-e2e: " << ab::message_of(o.error()) << "\n";
    return 2;
  }
  if (o->help) {
    std::cout << ab::e2e::usage();
    return 0;
  }
  // The servers it starts sit beside it in the build's bin/.
  if (o->binary_dir.empty())
    o->binary_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  if (o->source_dir.empty()) o->source_dir = AB_SOURCE_DIR;
  // A client's write to a server that just died must not kill the run.
  ::signal(SIGPIPE, SIG_IGN);
  return ab::e2e::run_scenario(*o, std::cout);
}
