#include "actors/pruner.hpp"

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::actors {

namespace {

/// Rows of each kind per transaction: short enough not to hold locks against the queue.
constexpr std::size_t batch = 500;
/// Batches per run; the rest waits for the next run.
constexpr int rounds = 40;

struct pruner_state {
  static inline const char* name = "pruner";
};

pruner_actor::behavior_type pruner(pruner_actor::stateful_pointer<pruner_state> self,
                                   const std::shared_ptr<storage::retention_store>& store,
                                   storage::retention keep, time_ms interval_ms) {
  auto log = spdlog::get("actors");
  if (!log) log = spdlog::default_logger()->clone("actors");
  if (keep.requests_ms > 0 || keep.audit_ms > 0) self->send(self, prune_atom::value);
  return {
      [=](prune_atom) {
        storage::prune_result total;
        for (int round = 0; round < rounds; ++round) {
          auto res = store->prune(keep, batch);
          if (!res) {
            log->warn("pruning failed, trying again later: {}", message_of(res.error()));
            break;
          }
          total.requests += res->requests;
          total.audit += res->audit;
          total.events += res->events;
          if (res->requests < batch && res->audit < batch && res->events < batch) break;
        }
        if (total.requests + total.audit + total.events > 0)
          log->info("pruned {} finished requests, {} audit entries, {} pending events",
                    total.requests, total.audit, total.events);
        self->delayed_send(self, std::chrono::milliseconds(interval_ms), prune_atom::value);
      },
  };
}

}  // namespace

pruner_actor spawn_pruner(caf::actor_system& sys, std::shared_ptr<storage::retention_store> store,
                          storage::retention keep, time_ms interval_ms) {
  return sys.spawn<caf::detached>(pruner, std::move(store), keep, interval_ms);
}

service_spec pruner_service(std::shared_ptr<storage::retention_store> store,
                            storage::retention keep, time_ms interval_ms) {
  return {"pruner",
          [store = std::move(store), keep, interval_ms](
              caf::actor_system& sys, const supervisor_actor&, const config::cluster_map&) {
            return caf::actor_cast<caf::actor>(spawn_pruner(sys, store, keep, interval_ms));
          }};
}

}  // namespace ab::actors
