// abctl: the operator's CLI of AutoBuild (submit, status, list, cancel, watch, hosts,
// cluster), talking to the routers' (or a node's) REST API with failover between them.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tools/abctl/abctl.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string{v};
  };
  return ab::abctl::run(std::vector<std::string>(argv + 1, argv + argc), env,
                        {std::cin, std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1});
}
