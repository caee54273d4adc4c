#include "actors/map_follower.hpp"

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "config/site_cluster_map.hpp"
#include "core/error.hpp"

namespace ab::actors {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("actors");
  return log ? log : spdlog::default_logger()->clone("actors");
}

struct follower_state {
  /// The stored version last looked at; -1 before the first poll.
  std::int64_t version = -1;
  config::cluster_map current;
  /// The store failed on the last poll (logged once until it answers again).
  bool store_failing = false;
  static inline const char* name = "map_follower";
};

map_follower_actor::behavior_type map_follower(
    map_follower_actor::stateful_pointer<follower_state> self,
    const std::shared_ptr<storage::cluster_map_store>& store, config::cluster_map current,
    time_ms poll_ms, const supervisor_actor& supervisor,
    const std::shared_ptr<config::live_cluster_map>& live) {
  auto log = logger();
  self->state.current = std::move(current);
  auto poll = [=] {
    auto& st = self->state;
    auto failing = [&](const caf::error& err) {
      if (!st.store_failing)
        log->warn("cannot read the site's cluster map, the one in force stays: {}",
                  message_of(err));
      st.store_failing = true;
    };
    auto version = store->cluster_map_version();
    if (!version) return failing(version.error());
    if (st.store_failing) log->info("the site's cluster map can be read again");
    st.store_failing = false;
    if (*version == st.version) return;
    auto site = config::read_site_cluster_map(*store);
    if (!site) {
      if (is(site.error(), errc::bad_config)) {
        // Written behind AutoBuild's back: said once per version, not on every poll.
        st.version = *version;
        log->error("cluster map not applied, the last good one stays in force: {}",
                   message_of(site.error()));
        return;
      }
      return failing(site.error());
    }
    st.version = site->version;
    if (site->map == st.current) return;
    log->info("cluster map version {} of the site database in force (changed by {})", site->version,
              site->changed_by.empty() ? "-" : site->changed_by);
    st.current = site->map;
    if (live) live->replace(site->map);
    self->send(supervisor, remap_atom::value, std::move(site->map));
  };
  self->send(self, tick_atom::value);
  return {
      [=](check_atom) { poll(); },
      [=](tick_atom) {
        poll();
        self->delayed_send(self, std::chrono::milliseconds(poll_ms), tick_atom::value);
      },
  };
}

}  // namespace

map_follower_actor spawn_map_follower(caf::actor_system& sys,
                                      std::shared_ptr<storage::cluster_map_store> store,
                                      config::cluster_map current, time_ms poll_ms,
                                      supervisor_actor supervisor,
                                      std::shared_ptr<config::live_cluster_map> live) {
  return sys.spawn<caf::detached>(map_follower, std::move(store), std::move(current), poll_ms,
                                  std::move(supervisor), std::move(live));
}

service_spec map_follower_service(std::shared_ptr<storage::cluster_map_store> store,
                                  time_ms poll_ms, std::shared_ptr<config::live_cluster_map> live) {
  return {
      "map_follower",
      [store = std::move(store), poll_ms, live = std::move(live)](
          caf::actor_system& sys, const supervisor_actor& sup, const config::cluster_map& map) {
        return caf::actor_cast<caf::actor>(spawn_map_follower(sys, store, map, poll_ms, sup, live));
      },
      false, true};
}

}  // namespace ab::actors
