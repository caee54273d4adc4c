#include "bench/leftovers.hpp"

#include <cstdio>

#include "core/error.hpp"

namespace ab::bench {

bool take_flag(int& argc, char** argv, const std::string& flag) {
  bool found = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (flag == argv[i])
      found = true;
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  return found;
}

caf::expected<std::vector<storage::request_view>> leftover_requests(
    storage::job_queue& db, const std::vector<std::string>& prefixes) {
  std::vector<storage::request_view> out;
  for (auto state : {storage::request_state::queued, storage::request_state::running}) {
    storage::request_filter f;
    f.state = state;
    f.limit = 500;
    for (;;) {
      auto page = db.requests(f);
      if (!page) return page.error();
      for (auto& r : page->items)
        for (const auto& p : prefixes)
          if (r.host.rfind(p, 0) == 0) {
            out.push_back(std::move(r));
            break;
          }
      if (page->next_cursor == 0) break;
      f.before = page->next_cursor;
    }
  }
  return out;
}

bool clear_leftovers(storage::job_queue& db, const std::vector<std::string>& prefixes, bool reset,
                     const std::string& program) {
  auto left = leftover_requests(db, prefixes);
  if (!left) {
    std::fprintf(stderr, "%s: cannot look for requests left by an earlier run: %s\n",
                 program.c_str(), message_of(left.error()).c_str());
    return false;
  }
  if (left->empty()) return true;
  if (!reset) {
    const auto& first = left->front();
    std::fprintf(stderr,
                 "%s: the database holds %zu active request(s) for this benchmark's hosts (e.g. "
                 "request %lld for host %s), left by an earlier run (interrupted, or parked by "
                 "it): their hosts are busy, "
                 "so this run would wait for them forever. Use a fresh database (e.g. "
                 "scripts/mariadb start --dir /tmp/NEW-db), or pass --reset to cancel them "
                 "first.\n",
                 program.c_str(), left->size(), static_cast<long long>(first.id),
                 first.host.c_str());
    return false;
  }
  for (const auto& r : *left)
    if (auto st = db.cancel(r.id, program + " --reset: left by an earlier run"); !st) {
      std::fprintf(stderr, "%s: cannot cancel request %lld: %s\n", program.c_str(),
                   static_cast<long long>(r.id), message_of(st.error()).c_str());
      return false;
    }
  std::fprintf(stderr, "%s: cancelled %zu active request(s) left by an earlier run\n",
               program.c_str(), left->size());
  return true;
}

}  // namespace ab::bench
