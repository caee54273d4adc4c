// ab-node-previous: the test build's stand-in for the release before this one, for the
// rolling-upgrade test. The same node, told it is that release: it speaks protocol 1 only
// (heartbeats without protocol members, no X-AB-Protocol check, no X-AB-Node headers) and
// knows the schema only up to version 13 (it applies nothing newer, and runs on a newer schema
// only while that schema is compatible with 13). Never installed, never packaged.

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "config/cluster_map.hpp"
#include "config/node_config.hpp"
#include "core/error.hpp"
#include "core/release.hpp"
#include "node/node.hpp"

int main(int argc, char** argv) {
  using namespace ab;
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  auto cl = config::parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl) return std::fprintf(stderr, "ab-node-previous: %s\n", message_of(cl.error()).c_str()), 2;
  auto cfg = config::load_node_config(*cl);
  if (!cfg)
    return std::fprintf(stderr, "ab-node-previous: %s\n", message_of(cfg.error()).c_str()), 2;
  auto map = cfg->cluster_map.empty()
                 ? caf::expected<config::cluster_map>{config::cluster_map::defaults()}
                 : config::load_cluster_map(cfg->cluster_map);
  if (!map)
    return std::fprintf(stderr, "ab-node-previous: %s\n", message_of(map.error()).c_str()), 2;
  release_info previous;
  previous.version = std::string{AB_VERSION} + "-previous";
  previous.protocol = {1, 1};
  previous.schema_max = 13;
  return node::run(*cfg, *map, set, previous);
}
