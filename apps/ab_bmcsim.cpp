// ab-bmcsim: a fleet of simulated Redfish BMCs for tests, benchmarks and the demo. Serves until
// SIGTERM or SIGINT.

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bmcsim/command_line.hpp"
#include "bmcsim/fleet.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cl = ab::bmc::sim::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl) {
    std::fprintf(stderr, "ab-bmcsim: %s\n", ab::message_of(cl.error()).c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(ab::bmc::sim::usage().c_str(), stdout);
    return 0;
  }
  auto server = ab::bmc::sim::fleet_server::start(cl->fleet, cl->server);
  if (!server) {
    std::fprintf(stderr, "ab-bmcsim: %s\n", ab::message_of(server.error()).c_str());
    return 1;
  }
  std::printf("ab-bmcsim: %zu BMCs, listening on %s://%s:%u\n", (*server)->sim().size(),
              cl->server.tls.enabled() ? "https" : "http", cl->server.host.c_str(),
              static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}
