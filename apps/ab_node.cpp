// ab-node: one per host of a site. Reads its configuration and runs the node (node/node.hpp)
// until SIGTERM/SIGINT; SIGHUP reloads the cluster map, the policy and the TLS certificate.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "core/error.hpp"
#include "node/node.hpp"

namespace {

using namespace ab;

int fail(const std::string& what, int code) {
  std::fprintf(stderr, "ab-node: %s\n", what.c_str());
  return code;
}

/// Blocks the signals the main thread waits for, in every thread spawned after this.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that closed its socket (an LDAP server, a BMC) is an error on write, not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  auto signals = block_signals();
  auto cl = config::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl) return fail(message_of(cl.error()), 2);
  if (cl->help) {
    std::fputs(config::usage().c_str(), stdout);
    return 0;
  }
  auto cfg = config::load_node_config(*cl);
  if (!cfg) return fail(message_of(cfg.error()), 2);
  auto map = cfg->cluster_map.empty()
                 ? caf::expected<config::cluster_map>{config::cluster_map::defaults()}
                 : config::load_cluster_map(cfg->cluster_map);
  if (!map) return fail(message_of(map.error()), 2);
  return node::run(*cfg, *map, signals);
}
