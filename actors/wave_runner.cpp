#include "actors/wave_runner.hpp"

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"

namespace ab::actors {

namespace {

struct wave_runner_state {
  std::unique_ptr<lifecycle::wave_engine> engine;
  static inline const char* name = "wave_runner";
};

wave_runner_actor::behavior_type wave_runner(
    wave_runner_actor::stateful_pointer<wave_runner_state> self,
    std::shared_ptr<storage::store> store, std::shared_ptr<const lifecycle::rules> rules,
    std::shared_ptr<const ab::clock> clk, std::string owner, time_ms interval_ms) {
  auto log = spdlog::get("actors");
  if (!log) log = spdlog::default_logger()->clone("actors");
  self->state.engine = std::make_unique<lifecycle::wave_engine>(
      std::move(store), std::move(rules), std::move(clk), std::move(owner), 3 * interval_ms);
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        auto res = self->state.engine->advance();
        if (!res)
          log->warn("wave plans: a round failed, trying again later: {}", message_of(res.error()));
        self->delayed_send(self, std::chrono::milliseconds(interval_ms), tick_atom::value);
      },
  };
}

}  // namespace

service_spec wave_runner_service(std::shared_ptr<storage::store> store,
                                 std::shared_ptr<const lifecycle::rules> rules,
                                 std::shared_ptr<const ab::clock> clk, std::string owner,
                                 time_ms interval_ms) {
  return {"wave_runner",
          [store = std::move(store), rules = std::move(rules), clk = std::move(clk),
           owner = std::move(owner), interval_ms](caf::actor_system& sys, const supervisor_actor&,
                                                  const config::cluster_map&) {
            // Detached: its store calls block.
            return caf::actor_cast<caf::actor>(
                sys.spawn<caf::detached>(wave_runner, store, rules, clk, owner, interval_ms));
          }};
}

}  // namespace ab::actors
