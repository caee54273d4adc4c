// ab-node: one per host of a site. For now it opens the store (embedded SQLite by default),
// brings its schema up to date and reports the queue; the actors and the API come next.

#include <cstdio>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"

namespace {

void usage() {
  std::puts(
      "usage: ab-node [--store URL] [--help]\n"
      "  --store URL   sqlite:PATH (default sqlite:var/autobuild.db) or\n"
      "                mysql://USER:PASS@HOST:PORT/DB\n"
      "Opens the store, applies schema migrations and prints the queue depth.");
}

}  // namespace

int main(int argc, char** argv) {
  ab::storage::store_options opts;
  opts.url = "sqlite:var/autobuild.db";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--store" && i + 1 < argc) {
      opts.url = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "ab-node: unknown option %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  auto store = ab::storage::open_store(opts, std::make_shared<ab::system_clock>());
  if (!store) {
    std::fprintf(stderr, "ab-node: %s\n", ab::message_of(store.error()).c_str());
    return 1;
  }
  std::printf("ab-node: store %s ready (backend %s, schema version %d)\n",
              (*store)->backend() == "sqlite" ? opts.url.c_str() : "mysql://…",
              (*store)->backend().c_str(), (*store)->schema_version());
  auto depth = (*store)->queue_depth();
  if (!depth) {
    std::fprintf(stderr, "ab-node: %s\n", ab::message_of(depth.error()).c_str());
    return 1;
  }
  std::printf("ab-node: %zu queue rows (type/class/state)\n", depth->size());
  for (const auto& row : *depth)
    std::printf("  %-16s %-8s %-8s %lld\n", row.type.c_str(), row.priority_class.c_str(),
                ab::storage::to_string(row.state), static_cast<long long>(row.count));
  std::puts("ab-node: workers, the straggler manager and the REST API arrive with the next issues");
  return 0;
}
