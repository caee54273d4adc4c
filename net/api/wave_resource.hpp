#pragma once

// The waves resource: rolling actions over sets of hosts, in waves of at most `max_unavailable`
// hosts per rack (or service group), with a pause between waves and a stop when a wave's
// failures pass a threshold. `POST /v1/waves` plans and stores one (or, as a dry run, only
// plans it), `GET /v1/waves` lists them, `GET /v1/waves/{id}` shows the plan and its progress,
// `POST /v1/waves/{id}/stop` stops one. The node's wave engine (`lifecycle::wave_engine`)
// advances them. The actor knows nothing of HTTP; `serve_waves` is the routes' thin frontend.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "auth/authenticator.hpp"
#include "lifecycle/rules.hpp"
#include "net/api/error.hpp"
#include "net/http/server.hpp"
#include "storage/store.hpp"

namespace ab::net {

struct call_context;

/// `POST /v1/waves`: a validated wave plan request.
struct create_wave_call {
  auth::identity who;
  std::string action;
  std::vector<std::string> hosts;
  std::string priority_class = "user";
  /// `rack` or `service_group`: the host fact that groups hosts.
  std::string group_by = "rack";
  int max_unavailable = 1;
  int wave_size = 0;
  time_ms pause_ms = 0;
  int failure_threshold = 10;
  std::optional<std::int64_t> confirm_hosts;
  /// Plan it, store nothing.
  bool dry_run = false;
};

/// `GET /v1/waves/{id}`.
struct get_wave_call {
  auth::identity who;
  storage::wave_id id = 0;
};

/// `GET /v1/waves`.
struct list_waves_call {
  auth::identity who;
  storage::wave_filter filter;
};

/// `POST /v1/waves/{id}/stop`.
struct stop_wave_call {
  auth::identity who;
  storage::wave_id id = 0;
};

/// A wave with its plan; `stored` is false for a dry run; `hidden` counts hosts of the plan the
/// caller may not see (left out of `wave.hosts`).
struct wave_reply {
  storage::wave_record wave;
  bool stored = true;
  std::size_t hidden = 0;
};

/// Waves, newest first, without their plans.
struct wave_list_reply {
  std::vector<storage::wave_record> waves;
};

/// The waves resource.
using wave_actor = caf::typed_actor<caf::replies_to<create_wave_call>::with<wave_reply>,
                                    caf::replies_to<get_wave_call>::with<wave_reply>,
                                    caf::replies_to<list_waves_call>::with<wave_list_reply>,
                                    caf::replies_to<stop_wave_call>::with<wave_reply>>;

/// What the waves resource plans with and checks callers against.
struct wave_resource_options {
  /// The lifecycle's rules: each host's plan must be valid when the wave is made; required.
  std::shared_ptr<const lifecycle::rules> rules;
  /// Null: the API is open.
  std::shared_ptr<auth::authenticator> auth;
};

/// Spawns the resource (detached: its store calls block) on `store`.
wave_actor spawn_wave_resource(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                               wave_resource_options options);

/// Parses a `POST /v1/waves` body (400 for a wrong shape or value).
std::variant<api_error, create_wave_call> parse_wave_request(
    const std::string& body, const std::vector<std::string>& known_actions,
    const std::vector<std::string>& classes);

/// JSON of a wave: its settings, progress, per-wave tallies and (when it has them) its hosts.
std::string encode_wave(const storage::wave_record& w, std::size_t hidden = 0);

/// Serves an authenticated call to one of the waves' routes (`route` is "METHOD /pattern"). A
/// null `to` answers 404.
void serve_waves(caf::actor_system& sys, const wave_actor& to, const std::string& route,
                 const std::vector<std::string>& params, const std::string& query,
                 const http_request& req, const std::shared_ptr<call_context>& ctx,
                 const std::vector<std::string>& known_actions,
                 const std::vector<std::string>& classes, responder respond);

}  // namespace ab::net

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::create_wave_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_wave_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::list_waves_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::stop_wave_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::wave_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::wave_list_reply)
