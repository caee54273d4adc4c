#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "auth/authenticator.hpp"
#include "lifecycle/rules.hpp"
#include "metrics/http_metrics.hpp"
#include "net/api/audit_trail.hpp"
#include "net/api/error.hpp"
#include "net/api/failure_limiter.hpp"
#include "net/api/forwarded.hpp"
#include "net/api/read_budget.hpp"
#include "net/api/resources.hpp"
#include "net/http/server.hpp"
#include "storage/store.hpp"

namespace ab::net {

/// What the REST API needs to know beyond the store.
struct api_options {
  /// The actions a request may ask for, and whether one may run on a host and what it makes
  /// (its job chain, the lifecycle states it moves the host through); required.
  std::shared_ptr<const lifecycle::rules> rules;
  /// Priority classes a request may name.
  std::vector<std::string> classes{"maas", "user", "organic"};
  /// Detached actors that make the API's store calls (each blocks only itself), and the most
  /// calls being served at once before the node answers 429.
  std::size_t store_actors = 4;
  std::size_t max_in_flight = 256;
  /// Counts the store actors put in the place of one that died; may be null.
  std::shared_ptr<std::atomic<std::int64_t>> store_restarts;
  /// Counts the batches the submissions went to the store in (each one transaction, unless the
  /// store refused it whole); may be null.
  std::shared_ptr<std::atomic<std::int64_t>> submit_batches;
  /// Counts the batches GETs of requests went to the store in (each one statement); may be
  /// null.
  std::shared_ptr<std::atomic<std::int64_t>> read_batches;
  /// The most calls admitted per store actor (queued for it or being served): the admission
  /// limit is the smaller of this times `store_actors` and `max_in_flight`, so that what is
  /// admitted is what the API's share of the database can serve soon, and the rest is refused
  /// at once rather than queued. 0: `max_in_flight` alone.
  std::size_t calls_per_store_actor = 64;
  /// The reads' share of the node's time, in milliseconds of reads a second (`read_budget`):
  /// a GET (but the probes, `/metrics` and the web view) that comes while the reads answered
  /// lately took more is refused at once, 429 `reads_at_share` with Retry-After, before it
  /// reaches a store actor, so that readers back off before the workers' share of the
  /// database suffers. Submissions and other writes are never refused by it. 0: no bound.
  double read_ms_per_s = 0;
  /// The clock the reads are timed with, in milliseconds; unset: std::chrono::steady_clock.
  std::function<double()> read_clock;
  /// Why no node would ever process a request of `action` (nullopt: some cluster serves it):
  /// such a submission is refused, 422 `action_not_served`. Unset: every action is served.
  std::function<std::optional<std::string>(const std::string& action)> unserved;
  /// The cluster that would run a request of `action` (the cluster map's answer; nullopt: none
  /// does), so that a dry run can show a pause of that cluster, and `GET /v1/queue` groups by
  /// it. Unset: cluster pauses are not shown by dry runs, and the queue's clusters are "".
  std::function<std::optional<std::string>(const std::string& action)> cluster_of;
  /// Why an unfinished request waits (nullopt: it does not), shown as `waiting_for` by
  /// `GET /v1/requests/{id}`; runs on a store actor (it may call the store). Unset: never shown.
  std::function<std::optional<std::string>(const storage::request_view&)> waiting_for;
  /// The site's turnaround estimates: unfinished requests carry `eta`, a submission records
  /// its estimate, `GET /v1/queue` reports the queue. Null: no estimates, and `/v1/queue`
  /// answers an empty queue.
  std::shared_ptr<lifecycle::eta_board> eta;
  /// Why a host as `POST /v1/hosts` registers it, or as a `PATCH` leaves it, breaks the
  /// node's BMC rules (its credential store, its endpoint policy); answered 422
  /// `invalid_host` with the reason. Unset: no checks.
  std::function<std::optional<std::string>(const storage::host_record&)> validate_host;
  /// Told of each request whose installer's callback was redeemed (its parked job may run
  /// now), on a store actor: the node wakes the job's pool. Unset: nobody is told.
  std::function<void(storage::request_id)> on_callback;
  /// Probes a host's BMC for a dry run (credentials present, BMC reachable), bounded in time;
  /// unset: dry runs do not probe.
  host_probe probe_host;
  /// Who may call and what they may do; null leaves the API open: every caller is
  /// `anonymous` and may do everything (for development and demos only).
  std::shared_ptr<auth::authenticator> auth;
  /// Where every call but the health probes is recorded; null records nothing.
  std::shared_ptr<audit_trail> audit;
  /// Failed authentications (401) and refused callback tokens per source address, each counted
  /// on its own: a source past the limit gets 429 before any credential is looked at.
  failure_limits failures;
  /// The clock of those limits (and of the finished requests' reads kept); null: the system
  /// clock.
  std::shared_ptr<const ab::clock> clock;
  /// How long the read of a finished request answers later GETs of it without the database
  /// (`net/api/finished_requests`): it never changes; 0: every GET reads the store.
  time_ms finished_request_ms = 5000;
  /// Routers whose `X-Forwarded-For` names the client: failures are counted and calls audited
  /// under that address (net/api/forwarded.hpp); empty: every call is its peer's.
  ip_networks trusted_routers;
};

/// What the API knows about one call while serving it: who, and what to write in the audit
/// trail once it is answered.
struct call_context {
  auth::identity who;
  storage::audit_entry entry;
  /// Set for a failed authentication or callback token (and for a source refused for too many
  /// of them): such calls are audited in aggregate, see `audit_trail::record_refusal`.
  std::string refusal;
  /// A dry run: it changes nothing, so nothing is written for it, not its audit entry either
  /// (it is logged instead).
  bool unrecorded = false;
};

/// The REST API of a node, versioned under /v1: requests, hosts, audit, callbacks, node,
/// health. Its HTTP frontend: it routes, authenticates and validates a call, sends the typed
/// message of its resource (`net/api/resources.hpp`) and turns the typed reply, or the error,
/// into the HTTP answer; it never blocks an I/O thread. At most `admission_limit()` calls are
/// being served at once: one more is answered 429 with Retry-After before it is routed, its
/// credentials checked or its body parsed, in the I/O thread that read it; an unreachable store
/// is answered 503 with Retry-After.
class api_service {
 public:
  /// Serves the API through `resources`, which it stops when destroyed.
  api_service(caf::actor_system& sys, api_resources resources, api_options options);
  /// Serves the API through resources of its own on `store` (`spawn_api_resources`).
  api_service(caf::actor_system& sys, std::shared_ptr<storage::store> store, api_options options);
  ~api_service();
  api_service(const api_service&) = delete;
  api_service& operator=(const api_service&) = delete;

  /// The HTTP handler: routes, validates and answers one request.
  void handle(http_request&& req, responder respond);

  /// Calls being served now (admitted and not answered yet).
  std::size_t in_flight() const { return in_flight_->load(); }

  /// The most calls served at once (see `api_options::calls_per_store_actor`).
  std::size_t admission_limit() const { return limit_; }

  /// The `ab_http_*` metrics of the node's server (`server="node"`).
  metrics::http_metrics& http_metrics() const { return *http_metrics_; }

  /// Every route as "METHOD /path/{param}", as the OpenAPI document lists them.
  static std::vector<std::string> routes();

 private:
  /// Sends `msg` to `to` and answers with `on_reply(reply)`, or `on_error(error)`; both run in
  /// the replying actor's thread.
  template <class Handle, class Message, class OnReply, class OnError>
  void ask(const Handle& to, Message msg, responder respond, OnReply on_reply, OnError on_error);
  /// Same, with an error answered as `to_api_error` maps it.
  template <class Handle, class Message, class OnReply>
  void ask(const Handle& to, Message msg, responder respond, OnReply on_reply);
  /// Serves an authenticated call to `route`.
  void serve(const std::string& route, const std::vector<std::string>& params,
             const std::string& query, http_request&& req, const std::shared_ptr<call_context>& ctx,
             responder respond);
  /// Whether the caller may do `what`; always when the API is open.
  auth::decision allowed(const call_context& ctx, const auth::operation& what) const;
  /// Answers 429 to a call beyond the admission limit, or with `read` to a read beyond the
  /// reads' share (`api_options::read_ms_per_s`), counting it in the audit trail.
  void refuse_at_capacity(const http_request& req, const responder& respond,
                          std::chrono::steady_clock::time_point t0, bool read = false);
  void submit(const http_request& req, const std::shared_ptr<call_context>& ctx, responder respond);
  void audit_log(const std::string& query, responder respond);
  void callback(const std::string& id, const http_request& req,
                const std::shared_ptr<call_context>& ctx, responder respond);

  caf::actor_system& sys_;
  api_resources resources_;
  api_options options_;
  std::shared_ptr<std::atomic<std::size_t>> in_flight_;
  std::size_t limit_;
  std::shared_ptr<read_budget> reads_;
  failure_limiter auth_failures_;
  failure_limiter callback_failures_;
  std::shared_ptr<metrics::http_metrics> http_metrics_;
};

/// A stable 64-bit FNV-1a digest of `text`, as hex: the fingerprint of an idempotent call
/// (of its `canonical_call`).
std::string fingerprint(const std::string& text);

}  // namespace ab::net
