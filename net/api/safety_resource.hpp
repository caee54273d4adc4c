#pragma once

// The safety resource: holds on hosts and pauses of a site, a cluster or an action, kept in
// the site database (`storage::safety_store`). `GET|POST /v1/holds`, `GET|DELETE
// /v1/holds/{host}`, `GET|POST /v1/pauses`, `DELETE /v1/pauses/{scope}/{target}`. Grants:
// `hold.read` / `hold.write` on the host's site and name, `pause.read` / `pause.write` on the
// paused site (the answering node's site for a cluster or an action). The actor knows
// nothing of HTTP; `serve_safety` is the routes' thin frontend.

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "auth/authenticator.hpp"
#include "net/api/error.hpp"
#include "net/http/server.hpp"
#include "storage/store.hpp"

namespace ab::net {

struct call_context;

/// One call to the safety resource.
struct safety_call {
  enum class op { list_holds, get_hold, place_hold, lift_hold, list_pauses, place_pause, resume };
  op what = op::list_holds;
  auth::identity who;
  /// The client address, for the audit trail.
  std::string source;
  /// `host` (and `reason` to place one).
  storage::hold hold;
  /// `scope`, `target` (and `reason` to place one).
  storage::pause pause;
  /// The page of `list_holds`.
  storage::hold_filter filter;
  /// Why a hold is lifted or a pause resumed (optional).
  std::string note;
};

/// What a safety call answers: the holds or pauses it listed, placed or lifted.
struct safety_reply {
  std::vector<storage::hold> holds;
  std::vector<storage::pause> pauses;
  /// For `list_holds`: the `after` of the next page; empty on the last one.
  std::string next;
};

/// The safety resource.
using safety_actor = caf::typed_actor<caf::replies_to<safety_call>::with<safety_reply>>;

/// What the safety resource checks callers against.
struct safety_resource_options {
  /// The answering node's site: the site of a cluster's or an action's pause grant.
  std::string site;
  /// Null: the API is open.
  std::shared_ptr<auth::authenticator> auth;
};

/// Spawns the resource (detached: its store calls block) on `store`.
safety_actor spawn_safety_resource(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                                   safety_resource_options options);

/// Parses the call of one safety route (`route` is "METHOD /pattern", `params` its path
/// parameters, `query` the query string): 400 for what is not the route's shape.
std::variant<api_error, safety_call> parse_safety_call(const std::string& route,
                                                       const std::vector<std::string>& params,
                                                       const std::string& query,
                                                       const std::string& body);

/// `{"host", "site", "reason", "owner", "created_at_ms"}`.
std::string encode_hold(const storage::hold& h);
/// `{"scope", "target", "reason", "owner", "created_at_ms"}`.
std::string encode_pause(const storage::pause& p);

/// True for the routes `serve_safety` answers.
bool is_safety_route(const std::string& route);

/// Serves an authenticated call to one of the safety routes: parses it, asks `to`, answers.
/// A null `to` answers 404.
void serve_safety(caf::actor_system& sys, const safety_actor& to, const std::string& route,
                  const std::vector<std::string>& params, const std::string& query,
                  const http_request& req, const std::shared_ptr<call_context>& ctx,
                  responder respond);

}  // namespace ab::net

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::safety_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::safety_reply)
