#pragma once

// The API's resources as typed actors: a typed message in, a typed reply (or a `caf::error`)
// out. They know nothing of HTTP: the frontend (`api_service`) parses, authenticates and
// validates a call, sends one of these messages and turns the reply into the HTTP answer.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "auth/policy.hpp"
#include "lifecycle/eta_board.hpp"
#include "net/api/cluster_map_resource.hpp"
#include "net/api/codec.hpp"
#include "net/api/preflight.hpp"
#include "net/api/safety_resource.hpp"
#include "net/api/wave_resource.hpp"
#include "storage/store.hpp"

namespace ab::net {

struct api_options;

/// `POST /v1/requests`: a validated submission by `who`, all or nothing.
struct submit_call {
  auth::identity who;
  submit_command cmd;
  /// The Idempotency-Key, empty for none.
  std::string idempotency_key;
};

/// What the store made of a submission, host by host (in the order of `cmd.hosts`); for a dry
/// run, what it would make (nothing was stored).
struct submit_reply {
  std::vector<storage::submit_outcome> outcomes;
  std::optional<preflight_report> preflight;
};

/// Single submissions of several callers, served in one store transaction where they can be
/// (`submits_actor`): no two of them name the same host.
struct submit_batch_call {
  std::vector<submit_call> calls;
};

/// What became of each call of a `submit_batch_call`, in its order: a reply or an error.
struct submit_batch_reply {
  struct result {
    caf::error error;
    submit_reply reply;
  };
  std::vector<result> results;
};

/// `GET /v1/requests/{id}`.
struct get_request_call {
  auth::identity who;
  storage::request_id id = 0;
};

/// A request with its jobs, and why it waits (when it does and the node knows).
struct request_reply {
  storage::request_view view;
  std::optional<std::string> waiting_for;
  /// When it will be done (unfinished requests, when the node estimates).
  std::optional<lifecycle::estimate> eta;
};

/// GETs of several callers that came while the store was busy, read in one round trip
/// (`read_gatherer`); they may name one request more than once.
struct get_requests_call {
  std::vector<get_request_call> calls;
};

/// What each call of a `get_requests_call` gets, in its order: a reply or an error.
struct get_requests_reply {
  struct result {
    caf::error error;
    request_reply reply;
  };
  std::vector<result> results;
};

/// `GET /v1/requests`: a validated filter, narrowed to what `who` may read.
struct list_requests_call {
  auth::identity who;
  storage::request_filter filter;
};

/// One page of requests.
struct request_page_reply {
  storage::request_page page;
  /// The estimate of each item, in its order (empty: the node makes none).
  std::vector<std::optional<lifecycle::estimate>> etas;
};

/// `GET /v1/queue`.
struct queue_call {
  auth::identity who;
};

/// The site's queue: ready jobs by cluster, job type and class, with their throughput.
struct queue_reply {
  std::string site;
  struct line {
    std::string cluster;
    lifecycle::queue_line queue;
  };
  std::vector<line> lines;
};

/// `POST /v1/requests/{id}/cancel`.
struct cancel_call {
  auth::identity who;
  storage::request_id id = 0;
};

/// The state a cancelled request is in now, and its host.
struct cancel_reply {
  storage::request_id id = 0;
  storage::request_state state = storage::request_state::cancelled;
  std::string host;
};

/// `POST /v1/hosts`: validated hosts to register or change.
struct put_hosts_call {
  auth::identity who;
  std::vector<storage::host_record> hosts;
};

/// How many hosts were stored.
struct put_hosts_reply {
  std::size_t stored = 0;
};

/// `GET /v1/hosts`: a validated filter, narrowed to what `who` may read.
struct list_hosts_call {
  auth::identity who;
  storage::host_filter filter;
};

/// One page of hosts; `next_after` names the last one when another page follows.
struct host_page_reply {
  std::vector<storage::host_record> hosts;
  std::string next_after;
};

/// `GET /v1/hosts/{name}`.
struct get_host_call {
  auth::identity who;
  std::string name;
};

/// `PATCH /v1/hosts/{name}`: validated changes.
struct patch_host_call {
  auth::identity who;
  std::string name;
  host_changes changes;
};

/// `DELETE /v1/hosts/{name}`.
struct delete_host_call {
  auth::identity who;
  std::string name;
};

/// One host as stored.
struct host_reply {
  storage::host_record host;
};

/// A host is gone.
struct host_deleted {
  std::string name;
};

/// `GET /v1/audit`: a validated filter.
struct audit_call {
  storage::audit_filter filter;
};

/// Audit entries, newest first.
struct audit_reply {
  std::vector<storage::audit_entry> entries;
};

/// `POST /v1/callbacks/{id}`: an installer's report with the digest of its one-time token.
struct callback_call {
  storage::request_id id = 0;
  std::string token_sha256;
  callback_report report;
};

/// The report woke its request.
struct callback_reply {
  storage::request_id id = 0;
  bool succeeded = false;
};

/// A directory login (`Authorization: Basic …`), which binds to the directory: blocking work.
struct login_call {
  std::string authorization;
};

/// Who a login proved to be.
struct login_reply {
  auth::identity who;
};

/// Ask whether the API's store answers (`GET /readyz`).
using ready_atom = caf::atom_constant<caf::atom("ready")>;
/// Ask the node for its report (`GET /v1/node`).
using node_atom = caf::atom_constant<caf::atom("node")>;

/// What `GET /v1/node` reports: the node and its worker pools.
struct node_report {
  std::string node_id;
  std::string site;
  /// `policy` or `open`.
  std::string auth;
  std::string cluster;
  /// Job type → live workers.
  std::map<std::string, int> workers;
  std::int64_t restarts = 0;
  std::int64_t given_up = 0;
  /// Service actor (straggler manager, pruner, heartbeat, map watcher, clock check, and
  /// `api_store`: the API's store actors) → restarts.
  std::map<std::string, std::int64_t> service_restarts;
  bool draining = false;
  /// The site's number: its request ids are `site_id * 10^12 + n`.
  std::int64_t site_id = 0;
  /// The router heartbeats (empty when the node has no routers): whether the node is announced,
  /// why not, and each router's counters.
  struct router {
    std::string url;
    std::int64_t sent = 0, failures = 0;
    time_ms last_sent_ms = 0;
    std::string last_error;
  };
  std::vector<router> routers;
  bool announced = false;
  std::string not_announced_because;
};

/// The requests resource: submit, read, list, cancel.
using requests_actor =
    caf::typed_actor<caf::replies_to<submit_call>::with<submit_reply>,
                     caf::replies_to<get_request_call>::with<request_reply>,
                     caf::replies_to<list_requests_call>::with<request_page_reply>,
                     caf::replies_to<cancel_call>::with<cancel_reply>,
                     caf::replies_to<queue_call>::with<queue_reply>>;

/// A store actor's side of the batches.
using batch_actor = caf::typed_actor<caf::replies_to<submit_batch_call>::with<submit_batch_reply>,
                                     caf::replies_to<get_requests_call>::with<get_requests_reply>>;

/// The hosts resource: register, list, read, change, delete.
using hosts_actor = caf::typed_actor<caf::replies_to<put_hosts_call>::with<put_hosts_reply>,
                                     caf::replies_to<list_hosts_call>::with<host_page_reply>,
                                     caf::replies_to<get_host_call>::with<host_reply>,
                                     caf::replies_to<patch_host_call>::with<host_reply>,
                                     caf::replies_to<delete_host_call>::with<host_deleted>>;

/// The audit resource: read the trail (writing it is `audit_trail`'s).
using audit_actor = caf::typed_actor<caf::replies_to<audit_call>::with<audit_reply>>;

/// The callbacks resource: installers report back.
using callbacks_actor = caf::typed_actor<caf::replies_to<callback_call>::with<callback_reply>>;

/// The node resource: supplied by the node, which knows its supervisor.
using node_actor = caf::typed_actor<caf::replies_to<node_atom>::with<node_report>>;

/// The API's blocking work that is not a resource of its own: readiness and directory logins.
using api_chores_actor = caf::typed_actor<caf::replies_to<ready_atom>::with<bool>,
                                          caf::replies_to<login_call>::with<login_reply>>;

/// One detached actor of the API's store pool: it serves every resource but the node, so that
/// one bounded set of threads (and store connections) carries all of the API's blocking work.
using api_store_actor = requests_actor::extend_with<hosts_actor, audit_actor, callbacks_actor,
                                                    api_chores_actor, batch_actor>;

/// Gathers calls of one kind, while the store is busy, into batches that each take one store
/// transaction or round trip: a call that finds fewer batches out than `most` goes to the store
/// at once, alone; the calls that come while `most` are out wait and go together (up to
/// `Batching::most_weight`) in the next, so that a loaded node goes to the database once per
/// batch rather than once per call. Calls sharing a key (`Batching::keys`: the hosts of a
/// submission) never go in one batch, nor while a batch with that key is out: they are served
/// one after another, in the order they came. Thread-safe and without a thread of its own: a
/// batch goes from the caller's thread (or the thread of the store actor that answered the
/// last) to a store actor, and its answers are handed on in that store actor's thread.
template <class Batching>
class call_gatherer : public std::enable_shared_from_this<call_gatherer<Batching>> {
 public:
  using call_type = typename Batching::call;
  using reply_type = typename Batching::reply;
  /// Called once with a call's reply, or its error.
  using callback = std::function<void(caf::expected<reply_type>)>;

  /// Sends batches (`Batching::batch_call`) to `pool`, at most `most` at once, counting each in
  /// `batches` (may be null).
  call_gatherer(caf::actor_system& sys, api_store_actor pool, std::size_t most,
                std::shared_ptr<std::atomic<std::int64_t>> batches);

  /// Serves `call`; `done` is called once, in a store actor's thread.
  void serve(call_type call, callback done);

 private:
  struct waiting {
    call_type call;
    callback done;
  };
  struct batch {
    std::vector<call_type> calls;
    std::vector<callback> dones;
    std::vector<std::string> keys;
  };
  /// The batches that may go now (caller holds the lock).
  std::vector<batch> take_batches();
  void send(batch b);
  /// A batch is back (or lost): its keys are free, the next batches may go.
  void finished(const std::vector<std::string>& keys);

  caf::actor_system& sys_;
  api_store_actor pool_;
  std::size_t most_;
  std::shared_ptr<std::atomic<std::int64_t>> batches_;
  std::mutex mutex_;
  std::deque<waiting> queue_;
  std::size_t out_ = 0;
  std::multiset<std::string> busy_;
};

/// Submissions go in batches of up to 64 hosts, one transaction each; two calls naming one host
/// never go together (in one transaction the second would not see the first).
struct submit_batching {
  using call = submit_call;
  using reply = submit_reply;
  using batch_call = submit_batch_call;
  using batch_reply = submit_batch_reply;
  static const std::vector<std::string>& keys(const submit_call& c) { return c.cmd.hosts; }
  static std::size_t weight(const submit_call& c) { return c.cmd.hosts.size(); }
  /// Bulk submissions carry up to 100 hosts per call; a batch of single ones stays as small a
  /// transaction.
  static constexpr std::size_t most_weight = 64;
  static constexpr const char* what = "submission";
};

/// GETs of requests go in batches of up to 64, one statement each; reads never clash.
struct read_batching {
  using call = get_request_call;
  using reply = request_reply;
  using batch_call = get_requests_call;
  using batch_reply = get_requests_reply;
  static const std::vector<std::string>& keys(const get_request_call&) {
    static const std::vector<std::string> none;
    return none;
  }
  static std::size_t weight(const get_request_call&) { return 1; }
  static constexpr std::size_t most_weight = 64;
  static constexpr const char* what = "read";
};

using submit_gatherer = call_gatherer<submit_batching>;
using read_gatherer = call_gatherer<read_batching>;

/// The handles of a node's API resources.
struct api_resources {
  requests_actor requests;
  hosts_actor hosts;
  audit_actor audit;
  callbacks_actor callbacks;
  api_chores_actor chores;
  /// Null when no node answers `GET /v1/node` (tests): it then answers `{}`.
  node_actor node;
  /// The pool that serves the store-backed resources; exited by `stop`.
  caf::actor pool;
  /// The site's cluster map (`net/api/cluster_map_resource`); null: the routes answer 404.
  cluster_map_actor cluster_map = {};
  /// Holds and pauses (`net/api/safety_resource`); null: the routes answer 404.
  safety_actor safety = {};
  /// The site's wave plans (`net/api/wave_resource`); null: the routes answer 404.
  wave_actor waves = {};
  /// Submissions in batches; null: they go to `requests` one by one.
  std::shared_ptr<submit_gatherer> submits;
  /// GETs of one request in batches; null: they go to `requests` one by one.
  std::shared_ptr<read_gatherer> reads;

  /// Sends the pool (and through it its workers) and the node resource an exit; what is queued
  /// is answered with an error.
  void stop() const;
};

/// Spawns `options.store_actors` detached actors (at least one) that serve the store-backed
/// resources on `store`, behind one actor pool that hands each call to the least busy of them, with
/// the rules of `options` (the lifecycle, authorization, host checks, `waiting_for`). `node`
/// answers `GET /v1/node`; may be null.
api_resources spawn_api_resources(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                                  const api_options& options, node_actor node = {});

}  // namespace ab::net

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::submit_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::submit_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::submit_batch_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::submit_batch_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_request_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_requests_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_requests_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::queue_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::queue_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::request_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::list_requests_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::request_page_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::cancel_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::cancel_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::put_hosts_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::put_hosts_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::list_hosts_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::host_page_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::get_host_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::patch_host_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::delete_host_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::host_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::host_deleted)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::audit_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::audit_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::callback_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::callback_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::login_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::login_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::net::node_report)
