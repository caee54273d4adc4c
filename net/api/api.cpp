#include "net/api/api.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <regex>
#include <string_view>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_type.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "metrics/metrics.hpp"
#include "metrics/work_metrics.hpp"
#include "net/api/codec.hpp"
#include "net/api/detail/reply_sink.hpp"
#include "net/api/error.hpp"
#include "web/ui.hpp"

namespace ab::net {

namespace {

using json = nlohmann::json;

/// One route: method, a path pattern with `{param}` segments, and its name for routes().
struct route {
  const char* method;
  const char* pattern;
};

constexpr route table[] = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/v1/node"},
    {"POST", "/v1/requests"},
    {"GET", "/v1/requests"},
    {"GET", "/v1/requests/{id}"},
    {"GET", "/v1/queue"},
    {"POST", "/v1/requests/{id}/cancel"},
    {"POST", "/v1/hosts"},
    {"GET", "/v1/hosts"},
    {"GET", "/v1/hosts/{name}"},
    {"PATCH", "/v1/hosts/{name}"},
    {"DELETE", "/v1/hosts/{name}"},
    {"GET", "/v1/audit"},
    {"POST", "/v1/callbacks/{id}"},
    {"GET", "/v1/cluster-map"},
    {"PUT", "/v1/cluster-map"},
    {"POST", "/v1/cluster-map/moves"},
    {"GET", "/v1/holds"},
    {"POST", "/v1/holds"},
    {"GET", "/v1/holds/{host}"},
    {"DELETE", "/v1/holds/{host}"},
    {"GET", "/v1/pauses"},
    {"POST", "/v1/pauses"},
    {"DELETE", "/v1/pauses/{scope}/{target}"},
    {"POST", "/v1/waves"},
    {"GET", "/v1/waves"},
    {"GET", "/v1/waves/{id}"},
    {"POST", "/v1/waves/{id}/stop"},
};

/// Matches `path` against `pattern`, collecting `{param}` segments.
bool match(const std::string& pattern, const std::string& path, std::vector<std::string>& params) {
  params.clear();
  std::size_t p = 0, q = 0;
  while (p < pattern.size() && q < path.size()) {
    if (pattern[p] == '{') {
      auto close = pattern.find('}', p);
      auto slash = path.find('/', q);
      auto value = path.substr(q, slash == std::string::npos ? std::string::npos : slash - q);
      if (value.empty()) return false;
      params.push_back(value);
      p = close + 1;
      q = slash == std::string::npos ? path.size() : slash;
    } else if (pattern[p++] != path[q++]) {
      return false;
    }
  }
  return p == pattern.size() && q == path.size();
}

/// The route of `method` on `path`, its `{param}` segments in `params`; null if none, with
/// the methods that `path` does have in `allowed`.
const route* find_route(const std::string& method, const std::string& path,
                        std::vector<std::string>& params, std::vector<std::string>& allowed) {
  for (const auto& r : table)
    if (match(r.pattern, path, params)) {
      allowed.emplace_back(r.method);
      // `params` holds the segments of this route: the loop stops right after matching it.
      if (method == r.method) return &r;
    }
  return nullptr;
}

std::optional<storage::request_id> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(s);
}

http_response fail(const caf::error& err) {
  return error_response(to_api_error(err));
}

http_response fail(const api_error& e) {
  return error_response(e);
}

http_response denied(const auth::decision& d) {
  return error_response({403, "forbidden", d.reason, 0});
}

/// 429 for a source refused after too many failures, until `wait_ms` has passed.
http_response too_many_failures(time_ms wait_ms) {
  auto seconds = static_cast<int>(std::max<time_ms>(1, (wait_ms + 999) / 1000));
  return error_response(
      {429, "too_many_failures",
       "too many failed attempts from this address; retry in " + std::to_string(seconds) + " s",
       seconds});
}

/// The answer to a request that does not exist — and, word for word, to one the caller may
/// not see: a caller learns nothing of what is outside its grants.
http_response no_such_request(const std::string& id) {
  return fail(api_error{404, "not_found", "request " + printable(id) + " does not exist", 0});
}

/// The answer to a call beyond the node's capacity.
http_response overloaded() {
  // Built once: at capacity this is most of what the node answers.
  static const http_response answer = error_response(
      {429, "overloaded", "this node is at its limit of concurrent work; retry shortly", 1});
  return answer;
}

/// The answer to a read beyond the reads' share of the node.
http_response reads_at_share() {
  static const http_response answer = error_response(
      {429, "reads_at_share",
       "this node's reads are at their share of its time (its workers keep theirs); retry "
       "shortly",
       1});
  return answer;
}

/// Whether a call is a read the reads' share bounds: a GET but the probes, the scrapes and
/// the web view (served before this).
bool bounded_read(const http_request& req) {
  if (req.method != "GET") return false;
  auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
  return path != "/healthz" && path != "/readyz" && path != "/metrics";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Fills in the decision and detail of an audit entry from the answer it got.
void conclude(storage::audit_entry& e, const http_response& r) {
  auto status = std::to_string(r.status);
  if (r.status < 400) {
    e.decision = "accepted";
    e.detail = e.detail.empty() ? status : status + " " + e.detail;
    return;
  }
  e.decision = r.status == 401 || r.status == 403  ? "denied"
               : r.status < 500 && r.status != 429 ? "rejected"
                                                   : "failed";
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object())
    e.detail =
        status + " " + body["error"].value("code", "") + ": " + body["error"].value("message", "");
  else
    e.detail = status;
}

/// Joins names with commas, cut short (with a count) past `limit` characters.
std::string join_names(const std::vector<std::string>& names, std::size_t limit = 1000) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (out.size() + names[i].size() > limit)
      return out + " … (" + std::to_string(names.size()) + " in all)";
    out += (i ? "," : "") + names[i];
  }
  return out;
}

/// The audit entry's JSON.
json encode_audit(const storage::audit_entry& e) {
  return {
      {"id", e.id},         {"at", e.at},         {"actor", e.actor},       {"source", e.source},
      {"action", e.action}, {"target", e.target}, {"decision", e.decision}, {"detail", e.detail}};
}

}  // namespace

std::string fingerprint(const std::string& text) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a64(text)));
  return buf;
}

namespace {

/// A place among the calls in flight: freed as its call is answered (before the answer is
/// handed to the transport, so that a client's next call never finds it still taken), or when
/// the last copy of the call's responder goes unanswered.
struct in_flight_slot {
  explicit in_flight_slot(std::shared_ptr<std::atomic<std::size_t>> c) : count(std::move(c)) {}
  in_flight_slot(const in_flight_slot&) = delete;
  in_flight_slot& operator=(const in_flight_slot&) = delete;
  ~in_flight_slot() { release(); }

  /// Frees the place; only the first call does.
  void release() {
    if (!released.exchange(true, std::memory_order_relaxed))
      count->fetch_sub(1, std::memory_order_relaxed);
  }

  std::shared_ptr<std::atomic<std::size_t>> count;
  std::atomic<bool> released{false};
};

/// Takes a place among at most `limit` calls in flight, or none when all are taken.
std::shared_ptr<in_flight_slot> admit(const std::shared_ptr<std::atomic<std::size_t>>& count,
                                      std::size_t limit) {
  auto now = count->load(std::memory_order_relaxed);
  do {
    if (now >= limit) return nullptr;
  } while (!count->compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return std::make_shared<in_flight_slot>(count);
}

}  // namespace

api_service::api_service(caf::actor_system& sys, api_resources resources, api_options options)
    : sys_(sys),
      resources_(std::move(resources)),
      options_(std::move(options)),
      in_flight_(std::make_shared<std::atomic<std::size_t>>(0)),
      limit_(
          options_.calls_per_store_actor == 0
              ? options_.max_in_flight
              : std::min(options_.max_in_flight, std::max<std::size_t>(options_.store_actors, 1) *
                                                     options_.calls_per_store_actor)),
      reads_(std::make_shared<read_budget>(options_.read_ms_per_s, options_.read_clock)),
      auth_failures_(options_.failures, options_.clock),
      callback_failures_(options_.failures, options_.clock),
      http_metrics_(std::make_shared<metrics::http_metrics>("node", routes())) {}

api_service::api_service(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                         api_options options)
    : api_service(sys, spawn_api_resources(sys, std::move(store), options), options) {}

api_service::~api_service() {
  resources_.stop();
}

std::vector<std::string> api_service::routes() {
  std::vector<std::string> out;
  for (const auto& r : table) out.push_back(std::string{r.method} + " " + r.pattern);
  return out;
}

template <class Handle, class Message, class OnReply, class OnError>
void api_service::ask(const Handle& to, Message msg, responder respond, OnReply on_reply,
                      OnError on_error) {
  using response = caf::response_type<typename Handle::signatures, Message>;
  static_assert(response::valid, "the resource does not take this message");
  using reply_type = caf::detail::tl_head_t<typename response::type>;
  // The reply is turned into the answer in the replying actor's thread: no relay between.
  detail::request_to_sink(
      sys_, caf::actor_cast<caf::strong_actor_ptr>(to), caf::make_message(std::move(msg)),
      [respond = std::move(respond), on_reply = std::move(on_reply),
       on_error = std::move(on_error)](caf::message&& m) {
        if (m.match_elements<reply_type>())
          respond(on_reply(m.get_mutable_as<reply_type>(0)));
        else if (m.match_elements<caf::error>())
          respond(on_error(m.get_as<caf::error>(0)));
        else
          respond(on_error(make_error(errc::store_failure, "unexpected reply of a resource")));
      });
}

template <class Handle, class Message, class OnReply>
void api_service::ask(const Handle& to, Message msg, responder respond, OnReply on_reply) {
  ask(to, std::move(msg), std::move(respond), std::move(on_reply),
      [](const caf::error& err) { return fail(err); });
}

void api_service::refuse_at_capacity(const http_request& req, const responder& respond,
                                     std::chrono::steady_clock::time_point t0, bool read) {
  auto path = req.target.substr(0, req.target.find('?'));
  http_metrics_->reject(metrics::reject_reason::capacity);
  {
    std::vector<std::string> params, allowed;
    const auto* r = find_route(req.method, path, params, allowed);
    http_metrics_->observe(
        r ? static_cast<std::size_t>(r - table) : http_metrics_->other(req.method), 429,
        seconds_since(t0));
  }
  if (options_.audit && path != "/readyz") {
    auto source = client_address(req, options_.trusted_routers);
    static const std::string capacity = "calls refused at capacity";
    static const std::string reads = "reads refused at the reads' share";
    const auto& what = read ? reads : capacity;
    // Most refusals are only counted, into the summary of their source's window.
    if (!options_.audit->count_refusal(source, what)) {
      storage::audit_entry e;
      e.source = std::move(source);
      e.actor = "-";
      std::vector<std::string> params, allowed;
      const auto* r = find_route(req.method, path, params, allowed);
      e.action = r ? std::string{r->method} + " " + r->pattern : req.method + " " + printable(path);
      e.target = path;
      e.decision = "failed";
      e.detail = read ? "429 reads_at_share" : "429 overloaded";
      options_.audit->record_refusal(std::move(e), what);
    }
  }
  respond(read ? reads_at_share() : overloaded());
}

void api_service::handle(http_request&& req, responder respond) {
  // The operator's view: files compiled in, holding no data, answered at once in this I/O
  // thread like the liveness probe (no credentials, no audit entry; its calls need both).
  if (auto ui = web::serve_ui(req)) return respond(std::move(*ui));
  // Capacity first, before routing, credentials, body parsing or store work: a node at its
  // limit answers at once, in this I/O thread. Only the liveness probe is never refused. The
  // place is held until the call is answered.
  auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<in_flight_slot> slot;
  if (!(req.method == "GET" && req.target.compare(0, req.target.find('?'), "/healthz") == 0)) {
    slot = admit(in_flight_, limit_);
    if (!slot) return refuse_at_capacity(req, respond, t0);
    respond = [slot, respond = std::move(respond)](http_response r) {
      slot->release();
      respond(std::move(r));
    };
  }
  // The reads' share next, as cheap: a read admitted spends the time until its answer.
  if (reads_->enabled() && bounded_read(req)) {
    if (!reads_->admit()) return refuse_at_capacity(req, respond, t0, true);
    respond = [reads = reads_, from = reads_->now(),
               respond = std::move(respond)](http_response r) {
      reads->spend(reads->now() - from);
      respond(std::move(r));
    };
  }

  auto qpos = req.target.find('?');
  auto path = req.target.substr(0, qpos);
  auto query = qpos == std::string::npos ? std::string{} : req.target.substr(qpos + 1);
  std::vector<std::string> params;
  std::vector<std::string> allowed;
  const route* found = find_route(req.method, path, params, allowed);
  // Counted once answered, under the route's pattern (never the raw path).
  respond = [m = http_metrics_,  // shared: a call may be answered after the API is gone
             index =
                 found ? static_cast<std::size_t>(found - table) : http_metrics_->other(req.method),
             t0, respond = std::move(respond)](http_response r) {
    m->observe(index, r.status, seconds_since(t0));
    // Refusals at capacity are counted before this; the others are a client's own failures
    // or a rate (a quota per hour).
    if (r.status == 429)
      m->reject(r.body.find("\"too_many_failures\"") != std::string::npos
                    ? metrics::reject_reason::client
                    : metrics::reject_reason::rate);
    respond(std::move(r));
  };
  if (!found) {
    if (allowed.empty()) {
      respond(fail(api_error{404, "not_found", "no such resource: " + path, 0}));
      return;
    }
    auto r =
        fail(api_error{405, "method_not_allowed", req.method + " is not allowed on " + path, 0});
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    r.headers.emplace_back("Allow", allow);
    respond(std::move(r));
    return;
  }
  std::string route = std::string{found->method} + " " + found->pattern;

  // Health probes: no credentials, no audit.
  if (route == "GET /healthz") return respond(json_response(200, R"({"status":"ok"})"));

  if (route == "GET /readyz")
    return ask(resources_.chores, ready_atom::value, std::move(respond), [](bool ok) {
      return ok ? json_response(200, R"({"status":"ready"})")
                : fail(make_error(errc::store_unavailable, "the store does not answer"));
    });

  auto ctx = std::make_shared<call_context>();
  ctx->entry.source = client_address(req, options_.trusted_routers);
  ctx->entry.action = route;
  ctx->entry.target = path;
  // Scrapes come every few seconds: like the probes they are not audited (a refused one still
  // counts against its source's failures).
  if (options_.audit && route != "GET /metrics")
    respond = [audit = options_.audit, ctx, respond = std::move(respond)](http_response r) {
      conclude(ctx->entry, r);
      if (ctx->unrecorded)
        spdlog::info("api: dry run of {} on {} by {} from {}: {}", ctx->entry.action,
                     ctx->entry.target, ctx->entry.actor, ctx->entry.source, r.status);
      else if (ctx->refusal.empty())
        audit->record(ctx->entry);
      else
        audit->record_refusal(ctx->entry, ctx->refusal);
      respond(std::move(r));
    };

  // A source that failed too often is refused before any token check or directory bind.
  bool callback_route = route == "POST /v1/callbacks/{id}";
  auto& failures = callback_route ? callback_failures_ : auth_failures_;
  if (auto wait = failures.blocked(ctx->entry.source)) {
    ctx->entry.actor = callback_route ? "installer" : "-";
    ctx->refusal = callback_route ? "refused callback tokens" : "failed authentications";
    return respond(too_many_failures(*wait));
  }

  if (callback_route) {
    // The installer proves itself with the request's one-time token, not with an account.
    ctx->who = {"installer", "callback", {}, false};
    ctx->entry.actor = "installer";
    return callback(params[0], req, ctx, std::move(respond));
  }
  if (!options_.auth) {
    ctx->who = {"anonymous", "none", {}, true};
    ctx->entry.actor = "anonymous";
    return serve(route, params, query, std::move(req), ctx, std::move(respond));
  }
  std::string authorization;
  if (auto it = req.headers.find("authorization"); it != req.headers.end())
    authorization = it->second;
  auto refused = [this, ctx](const caf::error& err) {
    ctx->entry.actor = "-";
    auto r = fail(err);
    if (r.status == 401) {
      r.headers.emplace_back("WWW-Authenticate",
                             R"(Bearer realm="autobuild", Basic realm="autobuild")");
      auth_failures_.record_failure(ctx->entry.source);
      ctx->refusal = "failed authentications";
    }
    return r;
  };
  // A directory login binds to the directory: never on an I/O thread, but on a store actor,
  // in whose thread the call is then served.
  if (options_.auth->may_block(authorization)) {
    auto call = std::make_shared<http_request>(std::move(req));
    detail::request_to_sink(
        sys_, caf::actor_cast<caf::strong_actor_ptr>(resources_.chores),
        caf::make_message(login_call{authorization}),
        [this, route, params, query, call, ctx, respond, refused](caf::message&& m) {
          if (!m.match_elements<login_reply>())
            return respond(refused(m.match_elements<caf::error>()
                                       ? m.get_as<caf::error>(0)
                                       : make_error(errc::unavailable, "no answer to a login")));
          ctx->who = std::move(m.get_mutable_as<login_reply>(0).who);
          ctx->entry.actor = ctx->who.name;
          serve(route, params, query, std::move(*call), ctx, respond);
        });
    return;
  }
  auto who = options_.auth->authenticate(authorization);
  if (!who) return respond(refused(who.error()));
  ctx->who = std::move(*who);
  ctx->entry.actor = ctx->who.name;
  serve(route, params, query, std::move(req), ctx, std::move(respond));
}

auth::decision api_service::allowed(const call_context& ctx, const auth::operation& what) const {
  if (!options_.auth) return {true, "the API is open"};
  return options_.auth->authorize(ctx.who, what);
}

void api_service::serve(const std::string& route, const std::vector<std::string>& params,
                        const std::string& query, http_request&& req,
                        const std::shared_ptr<call_context>& ctx, responder respond) {
  // The cluster map's routes check their own grants (cluster.read, cluster.write).
  if (route.find(" /v1/cluster-map") != std::string::npos)
    return serve_cluster_map(sys_, resources_.cluster_map, route, req, ctx, std::move(respond));
  // So do holds and pauses (hold.read, hold.write, pause.read, pause.write).
  if (is_safety_route(route))
    return serve_safety(sys_, resources_.safety, route, params, query, req, ctx,
                        std::move(respond));
  if (route == "GET /metrics") {
    if (auto d = allowed(*ctx, {"metrics.read", "", "", ""}); !d.allowed) return respond(denied(d));
    http_response r;
    r.content_type = metrics::content_type;
    r.body = metrics::text();
    return respond(std::move(r));
  }
  bool reading = route.rfind("GET ", 0) == 0;
  if (reading) {
    auto permission = route == "GET /v1/audit" ? "audit.read" : "read";
    if (auto d = allowed(*ctx, {permission, "", "", ""}); !d.allowed) return respond(denied(d));
  }
  if (route.find(" /v1/waves") != std::string::npos)
    return serve_waves(sys_, resources_.waves, route, params, query, req, ctx,
                       options_.rules->actions(), options_.classes, std::move(respond));
  const auto& who = ctx->who;
  if (route == "GET /v1/node") {
    if (!resources_.node) return respond(json_response(200, "{}"));
    ask(
        resources_.node, node_atom::value, std::move(respond),
        [](const node_report& n) {
          json out{{"node_id", n.node_id},
                   {"site", n.site},
                   {"site_id", n.site_id},
                   {"auth", n.auth},
                   {"cluster", n.cluster},
                   {"workers", n.workers},
                   {"restarts", n.restarts},
                   {"given_up", n.given_up},
                   {"service_restarts", n.service_restarts},
                   {"draining", n.draining}};
          // The router heartbeats, when the node has routers.
          if (!n.routers.empty()) {
            json routers = json::array();
            for (const auto& r : n.routers)
              routers.push_back({{"url", r.url},
                                 {"sent", r.sent},
                                 {"failures", r.failures},
                                 {"last_sent_ms", r.last_sent_ms},
                                 {"last_error", r.last_error}});
            out["heartbeats"] = {{"announced", n.announced},
                                 {"not_announced_because", n.not_announced_because},
                                 {"routers", std::move(routers)}};
          }
          return json_response(200, out.dump(-1, ' ', false, json::error_handler_t::replace));
        },
        [](const caf::error& err) {
          return error_response({503, "unavailable", message_of(err), 1});
        });
  } else if (route == "GET /v1/audit") {
    audit_log(query, std::move(respond));
  } else if (route == "POST /v1/requests") {
    submit(req, ctx, std::move(respond));
  } else if (route == "GET /v1/requests") {
    auto filter = parse_request_query(query);
    if (auto* e = std::get_if<api_error>(&filter)) return respond(fail(*e));
    ask(resources_.requests, list_requests_call{who, std::get<storage::request_filter>(filter)},
        std::move(respond), [](const request_page_reply& r) {
          return json_response(200, encode_request_page(r.page, r.etas));
        });
  } else if (route == "GET /v1/queue") {
    ask(resources_.requests, queue_call{who}, std::move(respond), [](const queue_reply& r) {
      std::vector<std::pair<std::string, lifecycle::queue_line>> lines;
      for (const auto& l : r.lines) lines.emplace_back(l.cluster, l.queue);
      return json_response(200, encode_queue(r.site, lines));
    });
  } else if (route == "GET /v1/requests/{id}") {
    auto id = parse_id(params[0]);
    if (!id) return respond(no_such_request(params[0]));
    auto encode = [](const request_reply& r) {
      return json_response(200, encode_request(r.view, r.waiting_for, r.eta));
    };
    // In batches when the resources gather them (one read for the GETs that come while the
    // store is busy).
    if (resources_.reads)
      resources_.reads->serve(
          get_request_call{who, *id},
          [respond = std::move(respond), encode = std::move(encode)](
              caf::expected<request_reply> r) { respond(r ? encode(*r) : fail(r.error())); });
    else
      ask(resources_.requests, get_request_call{who, *id}, std::move(respond), encode);
  } else if (route == "POST /v1/requests/{id}/cancel") {
    auto id = parse_id(params[0]);
    if (!id) return respond(no_such_request(params[0]));
    ask(resources_.requests, cancel_call{who, *id}, std::move(respond),
        [ctx](const cancel_reply& r) {
          ctx->entry.target = r.host;
          ctx->entry.detail = "request " + std::to_string(r.id);
          return json_response(200,
                               json{{"id", r.id}, {"state", storage::to_string(r.state)}}.dump());
        });
  } else if (route == "POST /v1/hosts") {
    auto hosts = parse_hosts(req.body);
    if (auto* e = std::get_if<api_error>(&hosts)) return respond(fail(*e));
    auto& hs = std::get<std::vector<storage::host_record>>(hosts);
    std::vector<std::string> names;
    names.reserve(hs.size());
    for (const auto& h : hs) names.push_back(h.name);
    ctx->entry.target = join_names(names);
    ask(resources_.hosts, put_hosts_call{who, std::move(hs)}, std::move(respond),
        [](const put_hosts_reply& r) {
          return json_response(201, json{{"hosts", r.stored}}.dump());
        });
  } else if (route == "GET /v1/hosts") {
    auto filter = parse_host_query(query);
    if (auto* e = std::get_if<api_error>(&filter)) return respond(fail(*e));
    ask(resources_.hosts, list_hosts_call{who, std::get<storage::host_filter>(filter)},
        std::move(respond), [](const host_page_reply& r) {
          std::string body = R"({"hosts":[)";
          for (std::size_t i = 0; i < r.hosts.size(); ++i)
            body += (i ? "," : "") + encode_host(r.hosts[i]);
          body += "]";
          if (!r.next_after.empty()) body += R"(,"next_after":)" + json(r.next_after).dump();
          return json_response(200, body + "}");
        });
  } else if (route == "GET /v1/hosts/{name}") {
    ask(resources_.hosts, get_host_call{who, params[0]}, std::move(respond),
        [](const host_reply& r) { return json_response(200, encode_host(r.host)); });
  } else if (route == "DELETE /v1/hosts/{name}") {
    ask(resources_.hosts, delete_host_call{who, params[0]}, std::move(respond),
        [](const host_deleted&) { return json_response(204, ""); });
  } else {
    // PATCH /v1/hosts/{name}
    auto changes = parse_host_changes(req.body);
    if (auto* e = std::get_if<api_error>(&changes)) return respond(fail(*e));
    ask(resources_.hosts, patch_host_call{who, params[0], std::get<host_changes>(changes)},
        std::move(respond),
        [](const host_reply& r) { return json_response(200, encode_host(r.host)); });
  }
}

void api_service::submit(const http_request& req, const std::shared_ptr<call_context>& ctx,
                         responder respond) {
  auto parsed = parse_submit(req.body, options_.rules->actions(), options_.classes);
  if (auto* e = std::get_if<api_error>(&parsed)) return respond(fail(*e));
  auto& cmd = std::get<submit_command>(parsed);
  ctx->entry.action += " " + cmd.action;
  ctx->entry.target = join_names(cmd.hosts);
  std::string key;
  if (auto it = req.headers.find("idempotency-key"); it != req.headers.end()) {
    key = it->second;
    if (key.empty() || key.size() > 255)
      return respond(
          fail(api_error{400, "invalid_header", "Idempotency-Key must be 1 to 255 characters", 0}));
  }
  auto hosts = cmd.hosts;
  ctx->unrecorded = cmd.dry_run;
  auto on_reply = [ctx, hosts = std::move(hosts), action = cmd.action,
                   cls = cmd.priority_class](const submit_reply& r) {
    if (r.preflight) return json_response(200, encode_preflight(*r.preflight));
    std::vector<std::string> ids;
    double created = 0;
    for (const auto& o : r.outcomes) {
      if (o.id) ids.push_back(std::to_string(o.id));
      if (o.what == storage::submit_outcome::status::created) ++created;
    }
    if (created > 0) metrics::request_counters::submitted(action, cls, created);
    ctx->entry.detail = "requests " + join_names(ids);
    return json_response(202, encode_outcomes(hosts, r.outcomes));
  };
  submit_call call{ctx->who, std::move(cmd), std::move(key)};
  // In batches when the resources gather them (one transaction for the calls that come while
  // the store is busy).
  if (resources_.submits)
    resources_.submits->serve(
        std::move(call),
        [respond = std::move(respond), on_reply = std::move(on_reply)](
            caf::expected<submit_reply> r) { respond(r ? on_reply(*r) : fail(r.error())); });
  else
    ask(resources_.requests, std::move(call), std::move(respond), std::move(on_reply));
}

void api_service::audit_log(const std::string& query, responder respond) {
  auto q = parse_query(query);
  if (auto* e = std::get_if<api_error>(&q)) return respond(fail(*e));
  storage::audit_filter f;
  auto number = [](const std::string& v) -> std::optional<std::int64_t> {
    if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoll(v);
  };
  for (const auto& [k, v] : std::get<std::map<std::string, std::string>>(q)) {
    auto n = number(v);
    if (k == "actor" && !v.empty())
      f.actor = v;
    else if (k == "since" && n)
      f.since = *n;
    else if (k == "before" && n)
      f.before = *n;
    else if (k == "limit" && n && *n >= 1 && *n <= 1000)
      f.limit = static_cast<std::size_t>(*n);
    else
      return respond(
          fail(api_error{400, "invalid_parameter", "bad query parameter '" + k + "'", 0}));
  }
  ask(resources_.audit, audit_call{f}, std::move(respond), [limit = f.limit](const audit_reply& r) {
    json out{{"entries", json::array()}};
    for (const auto& e : r.entries) out["entries"].push_back(encode_audit(e));
    out["next"] = r.entries.size() == limit ? json(r.entries.back().id) : json(nullptr);
    return json_response(200, out.dump());
  });
}

void api_service::callback(const std::string& id_text, const http_request& req,
                           const std::shared_ptr<call_context>& ctx, responder respond) {
  auto id = parse_id(id_text);
  if (!id) return respond(fail(api_error{404, "not_found", "no request '" + id_text + "'", 0}));
  auto refused = [this, ctx](http_response r) {
    if (r.status == 401) {
      callback_failures_.record_failure(ctx->entry.source);
      ctx->refusal = "refused callback tokens";
    }
    return r;
  };
  auto token = req.headers.find("x-callback-token");
  if (token == req.headers.end() || token->second.empty())
    return respond(refused(
        fail(api_error{401, "unauthenticated",
                       "a callback needs the request's one-time token in X-Callback-Token", 0})));
  auto parsed = parse_callback(req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return respond(fail(*e));
  ask(
      resources_.callbacks,
      callback_call{*id, auth::sha256_hex(token->second), std::get<callback_report>(parsed)},
      std::move(respond),
      [ctx, id_text](const callback_reply& r) {
        ctx->entry.detail = "request " + id_text + (r.succeeded ? " succeeded" : " failed");
        return json_response(202, json{{"request", r.id}, {"accepted", true}}.dump());
      },
      [refused](const caf::error& err) { return refused(fail(err)); });
}

}  // namespace ab::net
