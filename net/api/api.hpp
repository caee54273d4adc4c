#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "lifecycle/rules.hpp"
#include "net/api/error.hpp"
#include "net/api/audit_trail.hpp"
#include "net/api/failure_limiter.hpp"
#include "net/http/server.hpp"
#include "net/api/work_pool.hpp"
#include "storage/store.hpp"

namespace ab::net {

/// What the REST API needs to know beyond the store.
struct api_options {
  /// The actions a request may ask for, and whether one may run on a host and what it makes
  /// (its job chain, the lifecycle states it moves the host through); required.
  std::shared_ptr<const lifecycle::rules> rules;
  /// Priority classes a request may name.
  std::vector<std::string> classes{"maas", "user", "organic"};
  /// Threads that make store calls for the API, and the most calls waiting or running at
  /// once before the node answers 429.
  std::size_t threads = 4;
  std::size_t max_in_flight = 256;
  /// Why no node would ever process a request of `action` (nullopt: some cluster serves it):
  /// such a submission is refused, 422 `action_not_served`. Unset: every action is served.
  std::function<std::optional<std::string>(const std::string& action)> unserved;
  /// Why an unfinished request waits (nullopt: it does not), shown as `waiting_for` by
  /// `GET /v1/requests/{id}`; runs on the work pool (it may call the store). Unset: never shown.
  std::function<std::optional<std::string>(const storage::request_view&)> waiting_for;
  /// Why a host as `POST /v1/hosts` registers it, or as a `PATCH` leaves it, breaks the
  /// node's BMC rules (its credential store, its endpoint policy); answered 422
  /// `invalid_host` with the reason. Unset: no checks.
  std::function<std::optional<std::string>(const storage::host_record&)> validate_host;
  /// Answers `GET /v1/node` (supplied by the node, which knows its actors).
  std::function<void(responder)> node_info;
  /// Who may call and what they may do; null leaves the API open: every caller is
  /// `anonymous` and may do everything (for development and demos only).
  std::shared_ptr<auth::authenticator> auth;
  /// Where every call but the health probes is recorded; null records nothing.
  std::shared_ptr<audit_trail> audit;
  /// Failed authentications (401) and refused callback tokens per source address, each counted
  /// on its own: a source past the limit gets 429 before any credential is looked at.
  failure_limits failures;
  /// The clock of those limits; null: the system clock.
  std::shared_ptr<const ab::clock> clock;
};

/// What the API knows about one call while serving it: who, and what to write in the audit
/// trail once it is answered.
struct call_context {
  auth::identity who;
  storage::audit_entry entry;
  /// Set for a failed authentication or callback token (and for a source refused for too many
  /// of them): such calls are audited in aggregate, see `audit_trail::record_refusal`.
  std::string refusal;
};

/// The REST API of a node, versioned under /v1: requests, hosts, health. Store calls run on a
/// bounded work pool, never on the HTTP I/O threads; a full pool answers 429 with Retry-After,
/// an unreachable store 503 with Retry-After.
class api_service {
 public:
  api_service(std::shared_ptr<storage::store> store, api_options options);

  /// The HTTP handler: routes, validates and answers one request.
  void handle(http_request&& req, responder respond);

  /// Store calls queued or running on the work pool now.
  std::size_t in_flight() const { return pool_.in_flight(); }

  /// Every route as "METHOD /path/{param}", as the OpenAPI document lists them.
  static std::vector<std::string> routes();

 private:
  /// Runs `work` on the pool and sends its response; 429 at once when the pool is full.
  void offload(const responder& respond, std::function<http_response()> work);
  /// Serves an authenticated call to `route`.
  void serve(const std::string& route, const std::vector<std::string>& params,
             const std::string& query, http_request&& req, const std::shared_ptr<call_context>& ctx,
             responder respond);
  /// Whether the caller may do `what`; always when the API is open.
  auth::decision allowed(const call_context& ctx, const auth::operation& what) const;
  /// Where the caller may read: the sites and hosts of its `read` grants; all when open.
  auth::scope readable(const call_context& ctx) const;
  /// The reach of all the caller's grants, whatever they allow; everything when open.
  auth::scope reach(const call_context& ctx) const;
  /// Whether host `host` at `site` is inside the caller's grants: some grant of its roles,
  /// whatever it allows, covers it. What is outside is answered as if it did not exist.
  bool sees(const call_context& ctx, const std::string& site, const std::string& host) const;
  /// A listing narrowed to what the caller may read: literal sites go to the store, host
  /// patterns are applied here page by page (at most `scan_budget` rows per call).
  http_response list_requests(storage::request_filter f, const call_context& ctx);
  http_response list_hosts(storage::host_filter f, const call_context& ctx);
  http_response submit(const http_request& req, call_context& ctx);
  http_response cancel(storage::request_id id, call_context& ctx);
  http_response put_hosts(const std::vector<storage::host_record>& hosts, call_context& ctx);
  /// The 422 for a host that breaks `options_.validate_host`, or nullopt.
  std::optional<api_error> invalid_host(const storage::host_record& h) const;
  http_response change_host(const std::string& method, const std::string& name,
                            const std::string& body, call_context& ctx);
  http_response audit_log(const std::string& query);
  http_response callback(const std::string& id, const http_request& req, call_context& ctx);

  std::shared_ptr<storage::store> store_;
  api_options options_;
  work_pool pool_;
  failure_limiter auth_failures_;
  failure_limiter callback_failures_;
};

/// A stable 64-bit FNV-1a digest of `text`, as hex: the fingerprint of an idempotent call
/// (of its `canonical_call`).
std::string fingerprint(const std::string& text);

}  // namespace ab::net
