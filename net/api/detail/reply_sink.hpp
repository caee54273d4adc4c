#pragma once

// A one-shot receiver of one actor's reply for code that is not an actor (an HTTP I/O thread):
// the reply is handed to a callback in the replying actor's thread, with no thread of its own
// and no mailbox, so that a call costs no more thread hand-offs than the work itself needs.

#include <functional>
#include <mutex>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_actor.hpp>
#include <caf/message_id.hpp>
#include <caf/monitorable_actor.hpp>

namespace ab::net::detail {

/// Receives the reply to one request and hands its content to a callback, once.
///
/// When it goes away without a reply (the receiver dropped the request), the callback is
/// destroyed uncalled; a receiver that is down answers with an error, which is a reply.
class reply_sink final : public caf::monitorable_actor {
 public:
  using callback = std::function<void(caf::message&&)>;

  reply_sink(caf::actor_config& cfg, callback on_reply)
      : caf::monitorable_actor(cfg), on_reply_(std::move(on_reply)) {}

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit*) override {
    callback f;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      f.swap(on_reply_);
    }
    if (f && what) f(what->move_content_to_message());
  }

  void on_destroy() override {
    callback f;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      f.swap(on_reply_);
    }
    caf::monitorable_actor::on_destroy();
  }

 private:
  std::mutex mutex_;
  callback on_reply_;
};

/// Sends `msg` to `to` as a request whose reply goes to `on_reply`, from any thread.
inline void request_to_sink(caf::actor_system& sys, const caf::strong_actor_ptr& to,
                            caf::message msg, reply_sink::callback on_reply) {
  caf::actor_config cfg;
  auto sink = caf::make_actor<reply_sink, caf::actor>(sys.next_actor_id(), sys.node(), &sys, cfg,
                                                      std::move(on_reply));
  // Any non-zero id marks a request: the receiver answers it, with a value or an error.
  to->enqueue(caf::actor_cast<caf::strong_actor_ptr>(sink), caf::make_message_id(1), std::move(msg),
              nullptr);
}

}  // namespace ab::net::detail
