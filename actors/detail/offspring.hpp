#pragma once

#include <map>
#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace ab::actors::detail {

/// The actors that one actor started and that must not outlive it: stopped when it ends, for
/// whatever reason. (A link would do that too, but would also carry a `kill` of one of them up
/// to the parent, whose job is to restart it.)
class offspring {
 public:
  /// Stops every actor still listed once `self` terminates.
  template <class Self>
  void stop_with(Self* self) const {
    self->attach_functor([list = list_] {
      for (const auto& entry : *list)
        caf::anon_send_exit(entry.second, caf::exit_reason::user_shutdown);
    });
  }
  template <class Handle>
  void add(const Handle& h) {
    (*list_)[h.address()] = caf::actor_cast<caf::actor>(h);
  }
  void remove(const caf::actor_addr& a) { list_->erase(a); }

 private:
  std::shared_ptr<std::map<caf::actor_addr, caf::actor>> list_ =
      std::make_shared<std::map<caf::actor_addr, caf::actor>>();
};

}  // namespace ab::actors::detail
