// ab-router: receives the nodes' heartbeats and proxies each API call to a live node of the
// site its host is in (router/run.hpp), until SIGTERM/SIGINT; SIGHUP reloads the TLS
// certificate, the heartbeat secret, the policy and the metrics token.

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "router/router_config.hpp"
#include "router/run.hpp"

int main(int argc, char** argv) {
  using namespace ab;
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  auto cl = router::parse_router_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl) {
    std::fprintf(stderr, "ab-router: %s\n", message_of(cl.error()).c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(router::router_usage().c_str(), stdout);
    return 0;
  }
  auto cfg = router::load_router_config(*cl);
  if (!cfg) {
    std::fprintf(stderr, "ab-router: %s\n", message_of(cfg.error()).c_str());
    return 2;
  }
  return router::run(*cfg, signals);
}
