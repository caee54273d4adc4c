#include "net/api/api.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <regex>

#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "net/api/codec.hpp"
#include "net/api/error.hpp"

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
    {"GET", "/v1/node"},
    {"POST", "/v1/requests"},
    {"GET", "/v1/requests"},
    {"GET", "/v1/requests/{id}"},
    {"POST", "/v1/requests/{id}/cancel"},
    {"POST", "/v1/hosts"},
    {"GET", "/v1/hosts"},
    {"GET", "/v1/hosts/{name}"},
    {"PATCH", "/v1/hosts/{name}"},
    {"DELETE", "/v1/hosts/{name}"},
    {"GET", "/v1/audit"},
    {"POST", "/v1/callbacks/{id}"},
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

/// The answer to a host that is not in the inventory, and to one the caller may not see.
http_response no_such_host(const std::string& name) {
  return fail(
      api_error{404, "not_found", "host '" + printable(name) + "' is not in the inventory", 0});
}

/// A submission's answer for a host that is not in the inventory, or that the caller may not
/// see.
http_response unknown_host(const std::string& name) {
  return fail(api_error{
      422, "unknown_host",
      "host '" + printable(name) + "' is not in the inventory; register it with POST /v1/hosts",
      0});
}

/// Rows a filtered listing reads from the store at most per call; past it the page comes back
/// short, with a cursor to go on from.
constexpr std::size_t scan_budget = 10000;

/// The peer's address without its port.
std::string address_of(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') return remote.substr(1, remote.find(']') - 1);
  return remote.substr(0, remote.rfind(':'));
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

api_service::api_service(std::shared_ptr<storage::store> store, api_options options)
    : store_(std::move(store)),
      options_(std::move(options)),
      pool_(options_.threads, options_.max_in_flight),
      auth_failures_(options_.failures, options_.clock),
      callback_failures_(options_.failures, options_.clock) {}

std::vector<std::string> api_service::routes() {
  std::vector<std::string> out;
  for (const auto& r : table) out.push_back(std::string{r.method} + " " + r.pattern);
  return out;
}

void api_service::offload(const responder& respond, std::function<http_response()> work) {
  auto task = [respond, work = std::move(work)]() mutable { respond(work()); };
  if (!pool_.try_post(std::move(task)))
    respond(error_response(
        {429, "overloaded", "this node is at its limit of concurrent work; retry shortly", 1}));
}

void api_service::handle(http_request&& req, responder respond) {
  auto qpos = req.target.find('?');
  auto path = req.target.substr(0, qpos);
  auto query = qpos == std::string::npos ? std::string{} : req.target.substr(qpos + 1);
  std::vector<std::string> params;
  const route* found = nullptr;
  std::vector<std::string> allowed;
  for (const auto& r : table)
    if (match(r.pattern, path, params)) {
      allowed.emplace_back(r.method);
      if (req.method == r.method) {
        found = &r;
        break;
      }
    }
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
  // `params` holds the segments of `found`: the loop stopped right after matching it.
  std::string route = std::string{found->method} + " " + found->pattern;

  // Health probes: no credentials, no audit.
  if (route == "GET /healthz") return respond(json_response(200, R"({"status":"ok"})"));
  if (route == "GET /readyz")
    return offload(respond, [this] {
      if (auto err = store_->ping()) return fail(err);
      return json_response(200, R"({"status":"ready"})");
    });

  auto ctx = std::make_shared<call_context>();
  ctx->entry.source = address_of(req.remote);
  ctx->entry.action = route;
  ctx->entry.target = path;
  if (options_.audit)
    respond = [audit = options_.audit, ctx, respond = std::move(respond)](http_response r) {
      conclude(ctx->entry, r);
      if (ctx->refusal.empty())
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
    return offload(respond, [this, id = params[0], req = std::move(req), ctx] {
      auto r = callback(id, req, *ctx);
      if (r.status == 401) {
        callback_failures_.record_failure(ctx->entry.source);
        ctx->refusal = "refused callback tokens";
      }
      return r;
    });
  }
  if (!options_.auth) {
    ctx->who = {"anonymous", "none", {}, true};
    ctx->entry.actor = "anonymous";
    return serve(route, params, query, std::move(req), ctx, std::move(respond));
  }
  std::string authorization;
  if (auto it = req.headers.find("authorization"); it != req.headers.end())
    authorization = it->second;
  auto authenticate_and_serve = [this, route, params = std::move(params), query = std::move(query),
                                 req = std::move(req), ctx, respond, authorization]() mutable {
    auto who = options_.auth->authenticate(authorization);
    if (!who) {
      ctx->entry.actor = "-";
      auto r = fail(who.error());
      if (r.status == 401) {
        r.headers.emplace_back("WWW-Authenticate",
                               R"(Bearer realm="autobuild", Basic realm="autobuild")");
        auth_failures_.record_failure(ctx->entry.source);
        ctx->refusal = "failed authentications";
      }
      return respond(std::move(r));
    }
    ctx->who = std::move(*who);
    ctx->entry.actor = ctx->who.name;
    serve(route, params, query, std::move(req), ctx, std::move(respond));
  };
  // A directory login binds to the directory: never on an I/O thread.
  if (!options_.auth->may_block(authorization)) return authenticate_and_serve();
  auto task = std::make_shared<decltype(authenticate_and_serve)>(std::move(authenticate_and_serve));
  if (!pool_.try_post([task] { (*task)(); }))
    respond(error_response(
        {429, "overloaded", "this node is at its limit of concurrent work; retry shortly", 1}));
}

auth::decision api_service::allowed(const call_context& ctx, const auth::operation& what) const {
  if (!options_.auth) return {true, "the API is open"};
  return options_.auth->authorize(ctx.who, what);
}

auth::scope api_service::readable(const call_context& ctx) const {
  if (!options_.auth) return auth::scope::everything();
  return options_.auth->scope_of(ctx.who, "read");
}

auth::scope api_service::reach(const call_context& ctx) const {
  if (!options_.auth) return auth::scope::everything();
  return options_.auth->scope_of(ctx.who, "");
}

bool api_service::sees(const call_context& ctx, const std::string& site,
                       const std::string& host) const {
  return reach(ctx).covers(site, host);
}

http_response api_service::list_requests(storage::request_filter f, const call_context& ctx) {
  auto scope = readable(ctx);
  auto sites = scope.sites();
  if (sites) {
    // Literal sites: the store narrows the listing, and a site outside them has nothing.
    if (sites->empty() || (!f.site.empty() && !scope.covers_site(f.site)))
      return json_response(200, encode_request_page({}));
    if (f.site.empty()) f.sites = *sites;
  }
  if (scope.covers_all() || (sites && scope.all_hosts())) {
    auto page = store_->requests(f);
    return page ? json_response(200, encode_request_page(*page)) : fail(page.error());
  }
  // Host patterns (or site patterns): filter here, page by page, within a budget of rows.
  storage::request_page out;
  auto q = f;
  q.limit = std::max<std::size_t>(f.limit, 100);
  std::size_t scanned = 0;
  for (;;) {
    auto page = store_->requests(q);
    if (!page) return fail(page.error());
    for (std::size_t i = 0; i < page->items.size(); ++i) {
      auto& r = page->items[i];
      ++scanned;
      if (!scope.covers(r.site, r.host)) continue;
      out.items.push_back(std::move(r));
      if (out.items.size() == f.limit) {
        if (i + 1 < page->items.size() || page->next_cursor) out.next_cursor = out.items.back().id;
        return json_response(200, encode_request_page(out));
      }
    }
    if (!page->next_cursor) break;
    if (scanned >= scan_budget) {
      out.next_cursor = page->next_cursor;
      break;
    }
    q.before = page->next_cursor;
  }
  return json_response(200, encode_request_page(out));
}

http_response api_service::list_hosts(storage::host_filter f, const call_context& ctx) {
  auto scope = readable(ctx);
  auto sites = scope.sites();
  std::vector<storage::host_record> out;
  std::string next;
  auto answer = [&] {
    std::string body = R"({"hosts":[)";
    for (std::size_t i = 0; i < out.size(); ++i) body += (i ? "," : "") + encode_host(out[i]);
    body += "]";
    if (!next.empty()) body += R"(,"next_after":)" + nlohmann::json(next).dump();
    return json_response(200, body + "}");
  };
  if (sites) {
    if (sites->empty() || (!f.site.empty() && !scope.covers_site(f.site))) return answer();
    if (f.site.empty()) f.sites = *sites;
  }
  bool exact = scope.covers_all() || (sites && scope.all_hosts());
  // Below the store's own cap, so that a short answer always means the end.
  const auto limit = std::clamp<std::size_t>(f.limit, 1, 5000);
  auto q = f;
  // One row more than asked tells whether another page follows.
  q.limit = exact ? limit + 1 : std::max<std::size_t>(limit + 1, 100);
  std::size_t scanned = 0;
  for (;;) {
    auto hs = store_->hosts(q);
    if (!hs) return fail(hs.error());
    for (auto& h : *hs) {
      ++scanned;
      if (!exact && !scope.covers(h.site, h.name)) continue;
      if (out.size() == limit) {
        next = out.back().name;
        return answer();
      }
      out.push_back(std::move(h));
    }
    if (hs->size() < q.limit) break;
    if (scanned >= scan_budget) {
      next = hs->back().name;
      break;
    }
    q.after = hs->back().name;
  }
  return answer();
}

void api_service::serve(const std::string& route, const std::vector<std::string>& params,
                        const std::string& query, http_request&& req,
                        const std::shared_ptr<call_context>& ctx, responder respond) {
  bool reading = route.rfind("GET ", 0) == 0;
  if (reading) {
    auto permission = route == "GET /v1/audit" ? "audit.read" : "read";
    if (auto d = allowed(*ctx, {permission, "", "", ""}); !d.allowed) return respond(denied(d));
  }
  if (route == "GET /v1/node") {
    if (options_.node_info)
      options_.node_info(std::move(respond));
    else
      respond(json_response(200, "{}"));
  } else if (route == "GET /v1/audit") {
    offload(respond, [this, query] { return audit_log(query); });
  } else if (route == "POST /v1/requests") {
    offload(respond, [this, req = std::move(req), ctx] { return submit(req, *ctx); });
  } else if (route == "GET /v1/requests") {
    auto filter = parse_request_query(query);
    if (auto* e = std::get_if<api_error>(&filter)) return respond(fail(*e));
    offload(respond, [this, f = std::get<storage::request_filter>(filter), ctx] {
      return list_requests(f, *ctx);
    });
  } else if (route == "GET /v1/requests/{id}" || route == "POST /v1/requests/{id}/cancel") {
    auto id = parse_id(params[0]);
    if (!id) return respond(no_such_request(params[0]));
    if (reading) {
      offload(respond, [this, id = *id, ctx] {
        auto r = store_->request(id);
        if (!r && is(r.error(), errc::not_found)) return no_such_request(std::to_string(id));
        if (!r) return fail(r.error());
        if (!sees(*ctx, r->site, r->host)) return no_such_request(std::to_string(id));
        if (auto d = allowed(*ctx, {"read", r->site, r->host, ""}); !d.allowed) return denied(d);
        return json_response(200, encode_request(*r, options_.waiting_for ? options_.waiting_for(*r)
                                                                          : std::nullopt));
      });
    } else {
      offload(respond, [this, id = *id, ctx] { return cancel(id, *ctx); });
    }
  } else if (route == "POST /v1/hosts") {
    auto hosts = parse_hosts(req.body);
    if (auto* e = std::get_if<api_error>(&hosts)) return respond(fail(*e));
    offload(respond, [this, hs = std::get<std::vector<storage::host_record>>(hosts), ctx] {
      return put_hosts(hs, *ctx);
    });
  } else if (route == "GET /v1/hosts") {
    auto filter = parse_host_query(query);
    if (auto* e = std::get_if<api_error>(&filter)) return respond(fail(*e));
    offload(respond, [this, f = std::get<storage::host_filter>(filter), ctx] {
      return list_hosts(f, *ctx);
    });
  } else {
    // GET, PATCH, DELETE /v1/hosts/{name}
    offload(respond,
            [this, name = params[0], method = route.substr(0, route.find(' ')),
             body = std::move(req.body), ctx] { return change_host(method, name, body, *ctx); });
  }
}

http_response api_service::change_host(const std::string& method, const std::string& name,
                                       const std::string& body, call_context& ctx) {
  auto h = store_->host(name);
  if (!h && is(h.error(), errc::not_found)) return no_such_host(name);
  if (!h) return fail(h.error());
  // Existence is known only to a caller with some grant on the host.
  if (!sees(ctx, h->site, name)) return no_such_host(name);
  auto permission = method == "GET" ? "read" : "hosts.write";
  if (auto d = allowed(ctx, {permission, h->site, name, ""}); !d.allowed) return denied(d);
  if (method == "GET") return json_response(200, encode_host(*h));
  if (method == "DELETE") {
    auto err = store_->delete_host(name);
    if (err && is(err, errc::not_found)) return no_such_host(name);
    if (err) return fail(err);
    return json_response(204, "");
  }
  auto patched = parse_host_patch(body, *h);
  if (auto* e = std::get_if<api_error>(&patched)) return fail(*e);
  const auto& changed = std::get<storage::host_record>(patched);
  // Moving a host to another site needs the right on both.
  if (auto d = allowed(ctx, {"hosts.write", changed.site, name, ""}); !d.allowed) return denied(d);
  if (auto e = invalid_host(changed)) return fail(*e);
  // The store refuses (host_busy) a change of site, endpoint or credential under an active
  // request, in the same transaction as the change.
  if (auto err = store_->put_hosts({changed})) return fail(err);
  auto now = store_->host(name);
  return now ? json_response(200, encode_host(*now)) : fail(now.error());
}

std::optional<api_error> api_service::invalid_host(const storage::host_record& h) const {
  if (!options_.validate_host) return std::nullopt;
  auto why = options_.validate_host(h);
  if (!why) return std::nullopt;
  return api_error{422, "invalid_host", "host '" + h.name + "': " + *why, 0};
}

http_response api_service::put_hosts(const std::vector<storage::host_record>& hosts,
                                     call_context& ctx) {
  std::vector<std::string> names;
  for (const auto& h : hosts) {
    if (auto d = allowed(ctx, {"hosts.write", h.site, h.name, ""}); !d.allowed) return denied(d);
    names.push_back(h.name);
  }
  ctx.entry.target = join_names(names);
  // Registering a known host changes it as PATCH does: the right on its present site too.
  auto known = store_->find_hosts(names);
  if (!known) return fail(known.error());
  std::sort(known->begin(), known->end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  auto visible = reach(ctx);
  for (const auto& h : *known) {
    auto d = allowed(ctx, {"hosts.write", h.site, h.name, ""});
    if (d.allowed) continue;
    if (visible.covers(h.site, h.name)) return denied(d);
    // A host the caller may not see: its name is taken, and that is all it learns.
    return fail(api_error{409, "name_taken",
                          "host name '" + printable(h.name) + "' is taken; choose another name",
                          0});
  }
  for (const auto& h : hosts)
    if (auto e = invalid_host(h)) return fail(*e);
  // The store keeps a known host's lifecycle state and facts, and refuses (host_busy) to
  // change its site, endpoint or credential while it has an active request.
  if (auto err = store_->put_hosts(hosts)) return fail(err);
  return json_response(201, json{{"hosts", hosts.size()}}.dump());
}

http_response api_service::cancel(storage::request_id id, call_context& ctx) {
  auto r = store_->request(id);
  if (!r && is(r.error(), errc::not_found)) return no_such_request(std::to_string(id));
  if (!r) return fail(r.error());
  if (!sees(ctx, r->site, r->host)) return no_such_request(std::to_string(id));
  ctx.entry.target = r->host;
  if (auto d = allowed(ctx, {"cancel", r->site, r->host, ""}); !d.allowed) return denied(d);
  auto st = store_->cancel(id, "cancelled through the API by " + ctx.who.name);
  if (!st) return fail(st.error());
  ctx.entry.detail = "request " + std::to_string(id);
  return json_response(200, json{{"id", id}, {"state", storage::to_string(*st)}}.dump());
}

http_response api_service::submit(const http_request& req, call_context& ctx) {
  auto parsed = parse_submit(req.body, options_.rules->actions(), options_.classes);
  if (auto* e = std::get_if<api_error>(&parsed)) return fail(*e);
  const auto& cmd = std::get<submit_command>(parsed);
  if (options_.unserved)
    if (auto why = options_.unserved(cmd.action))
      return fail(api_error{422, "action_not_served", *why, 0});
  ctx.entry.action += " " + cmd.action;
  ctx.entry.target = join_names(cmd.hosts);
  std::string key;
  if (auto it = req.headers.find("idempotency-key"); it != req.headers.end()) {
    key = it->second;
    if (key.empty() || key.size() > 255)
      return fail(
          api_error{400, "invalid_header", "Idempotency-Key must be 1 to 255 characters", 0});
  }
  auto found = store_->find_hosts(cmd.hosts);
  if (!found) return fail(found.error());
  std::map<std::string, const storage::host_record*> by_name;
  for (const auto& h : *found) by_name[h.name] = &h;
  std::vector<storage::request_spec> specs;
  auto visible = reach(ctx);
  for (const auto& name : cmd.hosts) {
    auto it = by_name.find(name);
    // A host outside every grant of the caller is, to it, not in the inventory.
    if (it == by_name.end() || !visible.covers(it->second->site, name)) return unknown_host(name);
    const auto* h = it->second;
    // All or nothing: one host the caller may not touch refuses the whole submission.
    if (auto d = allowed(ctx, {cmd.action, h->site, name, cmd.priority_class}); !d.allowed)
      return denied(d);
    // The lifecycle's word: allowed in this state, by this BMC, and the chain it makes.
    auto plan = options_.rules->plan(cmd.action, *h);
    if (!plan) return fail(plan.error());
    storage::request_spec s;
    s.action = cmd.action;
    s.host = name;
    s.site = h->site;
    s.priority_class = cmd.priority_class;
    s.submitter = ctx.who.name;
    s.idempotency_key = key;
    s.fingerprint = key.empty() ? "" : fingerprint(canonical_call(cmd));
    s.params = cmd.params;
    plan->apply_to(s);
    specs.push_back(std::move(s));
  }
  auto out = store_->submit(specs);
  if (!out) return fail(out.error());
  if (out->size() == 1 && out->front().what == storage::submit_outcome::status::host_busy)
    return fail(api_error{409, "host_busy",
                          "host '" + cmd.hosts.front() + "' already has active request " +
                              std::to_string(out->front().id),
                          0});
  if (out->size() == 1 && out->front().what == storage::submit_outcome::status::key_conflict)
    return fail(api_error{409, "idempotency_conflict",
                          "the Idempotency-Key was used before with another body", 0});
  std::vector<std::string> ids;
  for (const auto& o : *out)
    if (o.id) ids.push_back(std::to_string(o.id));
  ctx.entry.detail = "requests " + join_names(ids);
  return json_response(202, encode_outcomes(cmd.hosts, *out));
}

http_response api_service::audit_log(const std::string& query) {
  auto q = parse_query(query);
  if (auto* e = std::get_if<api_error>(&q)) return fail(*e);
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
      return fail(api_error{400, "invalid_parameter", "bad query parameter '" + k + "'", 0});
  }
  auto entries = store_->audit_log(f);
  if (!entries) return fail(entries.error());
  json out{{"entries", json::array()}};
  for (const auto& e : *entries) out["entries"].push_back(encode_audit(e));
  out["next"] = entries->size() == f.limit ? json(entries->back().id) : json(nullptr);
  return json_response(200, out.dump());
}

http_response api_service::callback(const std::string& id_text, const http_request& req,
                                    call_context& ctx) {
  auto id = parse_id(id_text);
  if (!id) return fail(api_error{404, "not_found", "no request '" + id_text + "'", 0});
  auto token = req.headers.find("x-callback-token");
  if (token == req.headers.end() || token->second.empty())
    return fail(api_error{401, "unauthenticated",
                          "a callback needs the request's one-time token in X-Callback-Token", 0});
  auto parsed = parse_callback(req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return fail(*e);
  const auto& report = std::get<callback_report>(parsed);
  if (auto err = store_->redeem_callback(*id, auth::sha256_hex(token->second), report.payload))
    return fail(err);
  ctx.entry.detail = "request " + id_text + (report.succeeded ? " succeeded" : " failed");
  return json_response(202, json{{"request", *id}, {"accepted", true}}.dump());
}

}  // namespace ab::net
