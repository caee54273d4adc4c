#include "net/api/safety_resource.hpp"

#include <algorithm>
#include <cctype>

#include <caf/actor_cast.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "net/api/api.hpp"
#include "net/api/codec.hpp"
#include "net/api/detail/reply_sink.hpp"

namespace ab::net {

namespace {

using json = nlohmann::json;
using op = safety_call::op;

/// A hold's or pause's body is a small flat object.
constexpr int max_depth = 2;
constexpr std::size_t max_body = 8 * 1024;

api_error bad(const std::string& code, const std::string& message) {
  return {400, code, message, 0};
}

/// The body as a JSON object with string fields: those in `required` must be there, the
/// others in `optional` may be; an empty body is `{}`.
std::variant<api_error, json> object_of(const std::string& body,
                                        std::initializer_list<const char*> required,
                                        std::initializer_list<const char*> optional = {}) {
  if (body.size() > max_body)
    return bad("too_large", "the body is larger than " + std::to_string(max_body) + " bytes");
  json doc = json::object();
  if (!body.empty()) {
    auto parsed = parse_object(body, max_depth);
    if (auto* e = std::get_if<api_error>(&parsed)) return *e;
    doc = std::get<json>(std::move(parsed));
  }
  auto known = [&](const std::string& key) {
    auto is = [&](const char* a) { return key == a; };
    return std::any_of(required.begin(), required.end(), is) ||
           std::any_of(optional.begin(), optional.end(), is);
  };
  for (const auto& item : doc.items()) {
    if (!known(item.key()))
      return bad("unknown_field", "unknown field '" + printable(item.key()) + "'");
    if (!item.value().is_string())
      return bad("wrong_type", "field '" + printable(item.key()) + "' must be a string");
  }
  for (const auto* key : required)
    if (!doc.contains(key) || doc[key].get<std::string>().empty())
      return bad("missing_field", std::string{"field '"} + key + "' is required");
  return doc;
}

std::string text(const json& doc, const char* key) {
  return doc.contains(key) ? doc[key].get<std::string>() : std::string{};
}

caf::error denied(const auth::decision& d) {
  return ab::make_error(errc::forbidden, d.reason);
}

struct resource_state {
  static inline const char* name = "safety_resource";
};

safety_actor::behavior_type safety_resource(safety_actor::stateful_pointer<resource_state>,
                                            const std::shared_ptr<storage::store>& store,
                                            const safety_resource_options& options) {
  auto allowed = [options](const auth::identity& who, const char* action, const std::string& site,
                           const std::string& host) {
    if (!options.auth) return auth::decision{true, "the API is open"};
    return options.auth->authorize(who, {action, site, host, ""});
  };
  // The host as the caller may know it: one no grant of the caller reaches is unknown to it.
  auto host_for = [=](const auth::identity& who, const char* action,
                      const std::string& name) -> caf::expected<storage::host_record> {
    auto h = store->host(name);
    auto unknown = ab::make_error(errc::not_found, "no host named '" + printable(name) + "'");
    if (!h) return is(h.error(), errc::not_found) ? unknown : h.error();
    if (auto d = allowed(who, action, h->site, h->name); !d.allowed)
      return allowed(who, "read", h->site, h->name).allowed ? denied(d) : unknown;
    return h;
  };
  // A site's pause is granted on that site, a cluster's or an action's on this node's.
  auto pause_site = [options](const storage::pause& p) {
    return p.scope == "site" ? p.target : options.site;
  };
  auto one_hold = [](caf::expected<storage::hold> h) -> caf::result<safety_reply> {
    if (!h) return h.error();
    return safety_reply{{std::move(*h)}, {}, {}};
  };
  auto one_pause = [](caf::expected<storage::pause> p) -> caf::result<safety_reply> {
    if (!p) return p.error();
    return safety_reply{{}, {std::move(*p)}, {}};
  };
  return {
      [=](const safety_call& c) -> caf::result<safety_reply> {
        switch (c.what) {
          case op::list_holds: {
            auto page = store->holds(c.filter);
            if (!page) return page.error();
            safety_reply out;
            // A full page may have more after it, whatever the grants kept of it.
            if (page->size() >= c.filter.limit && !page->empty()) out.next = page->back().host;
            for (auto& h : *page)
              if (allowed(c.who, "hold.read", h.site, h.host).allowed)
                out.holds.push_back(std::move(h));
            return out;
          }
          case op::get_hold: {
            auto h = host_for(c.who, "hold.read", c.hold.host);
            if (!h) return h.error();
            auto held = store->holds_of({h->name});
            if (!held) return held.error();
            if (held->empty())
              return ab::make_error(errc::not_found, "host " + h->name + " is not on hold");
            return safety_reply{std::move(*held), {}, {}};
          }
          case op::place_hold: {
            auto h = host_for(c.who, "hold.write", c.hold.host);
            if (!h) return h.error();
            return one_hold(
                store->place_hold({h->name, h->site, c.hold.reason, c.who.name, 0}, c.source));
          }
          case op::lift_hold: {
            auto h = host_for(c.who, "hold.write", c.hold.host);
            if (!h) return h.error();
            return one_hold(store->lift_hold(h->name, {c.who.name, c.source, c.note}));
          }
          case op::list_pauses: {
            if (auto d = allowed(c.who, "pause.read", options.site, ""); !d.allowed)
              return denied(d);
            auto all = store->active_pauses();
            if (!all) return all.error();
            return safety_reply{{}, std::move(*all), {}};
          }
          case op::place_pause: {
            if (auto d = allowed(c.who, "pause.write", pause_site(c.pause), ""); !d.allowed)
              return denied(d);
            auto p = c.pause;
            p.owner = c.who.name;
            return one_pause(store->place_pause(p, c.source));
          }
          case op::resume:
            if (auto d = allowed(c.who, "pause.write", pause_site(c.pause), ""); !d.allowed)
              return denied(d);
            return one_pause(
                store->resume(c.pause.scope, c.pause.target, {c.who.name, c.source, c.note}));
        }
        return ab::make_error(errc::invalid_argument, "unknown safety call");
      },
  };
}

http_response fail(const caf::error& err) {
  return error_response(to_api_error(err));
}

json hold_json(const storage::hold& h) {
  return {{"host", h.host},
          {"site", h.site},
          {"reason", h.reason},
          {"owner", h.owner},
          {"created_at_ms", h.created_at}};
}

json pause_json(const storage::pause& p) {
  return {{"scope", p.scope},
          {"target", p.target},
          {"reason", p.reason},
          {"owner", p.owner},
          {"created_at_ms", p.created_at}};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

safety_actor spawn_safety_resource(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                                   safety_resource_options options) {
  return sys.spawn<caf::detached>(safety_resource, std::move(store), std::move(options));
}

bool is_safety_route(const std::string& route) {
  return route.find(" /v1/holds") != std::string::npos ||
         route.find(" /v1/pauses") != std::string::npos;
}

std::variant<api_error, safety_call> parse_safety_call(const std::string& route,
                                                       const std::vector<std::string>& params,
                                                       const std::string& query,
                                                       const std::string& body) {
  safety_call c;
  if (route == "GET /v1/holds") {
    c.what = op::list_holds;
    auto q = parse_query(query);
    if (auto* e = std::get_if<api_error>(&q)) return *e;
    for (const auto& [key, value] : std::get<0>(q)) {
      if (key == "after") {
        c.filter.after = value;
      } else if (key == "limit") {
        auto n = value.size() <= 4 && !value.empty() &&
                         std::all_of(value.begin(), value.end(), ::isdigit)
                     ? std::stoi(value)
                     : 0;
        if (n < 1 || n > 1000) return bad("invalid_query", "limit must be 1 to 1000");
        c.filter.limit = static_cast<std::size_t>(n);
      } else {
        return bad("invalid_query", "unknown query parameter '" + printable(key) + "'");
      }
    }
  } else if (route == "GET /v1/holds/{host}") {
    c.what = op::get_hold;
    c.hold.host = params.at(0);
  } else if (route == "POST /v1/holds") {
    c.what = op::place_hold;
    auto doc = object_of(body, {"host", "reason"});
    if (auto* e = std::get_if<api_error>(&doc)) return *e;
    c.hold.host = text(std::get<json>(doc), "host");
    c.hold.reason = text(std::get<json>(doc), "reason");
  } else if (route == "DELETE /v1/holds/{host}") {
    c.what = op::lift_hold;
    c.hold.host = params.at(0);
    auto doc = object_of(body, {}, {"note"});
    if (auto* e = std::get_if<api_error>(&doc)) return *e;
    c.note = text(std::get<json>(doc), "note");
  } else if (route == "GET /v1/pauses") {
    c.what = op::list_pauses;
  } else if (route == "POST /v1/pauses") {
    c.what = op::place_pause;
    auto doc = object_of(body, {"scope", "target", "reason"});
    if (auto* e = std::get_if<api_error>(&doc)) return *e;
    const auto& j = std::get<json>(doc);
    c.pause = {text(j, "scope"), text(j, "target"), text(j, "reason"), "", 0};
    if (!storage::is_pause_scope(c.pause.scope))
      return bad("invalid_field", "scope must be site, cluster or action");
  } else {
    // DELETE /v1/pauses/{scope}/{target}
    c.what = op::resume;
    c.pause.scope = params.at(0);
    c.pause.target = params.at(1);
    auto doc = object_of(body, {}, {"note"});
    if (auto* e = std::get_if<api_error>(&doc)) return *e;
    c.note = text(std::get<json>(doc), "note");
  }
  return c;
}

std::string encode_hold(const storage::hold& h) {
  return dump(hold_json(h));
}

std::string encode_pause(const storage::pause& p) {
  return dump(pause_json(p));
}

void serve_safety(caf::actor_system& sys, const safety_actor& to, const std::string& route,
                  const std::vector<std::string>& params, const std::string& query,
                  const http_request& req, const std::shared_ptr<call_context>& ctx,
                  responder respond) {
  if (!to) return respond(error_response({404, "not_found", "this node serves no holds", 0}));
  auto call = parse_safety_call(route, params, query, req.body);
  if (auto* e = std::get_if<api_error>(&call)) return respond(error_response(*e));
  auto& c = std::get<safety_call>(call);
  c.who = ctx->who;
  c.source = ctx->entry.source;
  if (!c.hold.host.empty()) ctx->entry.target = printable(c.hold.host);
  if (!c.pause.scope.empty()) ctx->entry.target = printable(c.pause.scope + ":" + c.pause.target);
  auto what = c.what;
  detail::request_to_sink(
      sys, caf::actor_cast<caf::strong_actor_ptr>(to), caf::make_message(std::move(c)),
      [respond = std::move(respond), what](caf::message&& m) {
        if (m.match_elements<caf::error>()) return respond(fail(m.get_as<caf::error>(0)));
        if (!m.match_elements<safety_reply>())
          return respond(fail(ab::make_error(errc::store_failure, "unexpected reply")));
        const auto& r = m.get_as<safety_reply>(0);
        switch (what) {
          case op::list_holds: {
            json out{{"holds", json::array()}};
            for (const auto& h : r.holds) out["holds"].push_back(hold_json(h));
            out["next"] = r.next.empty() ? json(nullptr) : json(r.next);
            return respond(json_response(200, dump(out)));
          }
          case op::list_pauses: {
            json out{{"pauses", json::array()}};
            for (const auto& p : r.pauses) out["pauses"].push_back(pause_json(p));
            return respond(json_response(200, dump(out)));
          }
          case op::place_hold:
            return respond(json_response(201, encode_hold(r.holds.at(0))));
          case op::get_hold:
          case op::lift_hold:
            return respond(json_response(200, encode_hold(r.holds.at(0))));
          case op::place_pause:
            return respond(json_response(201, encode_pause(r.pauses.at(0))));
          case op::resume:
            return respond(json_response(200, encode_pause(r.pauses.at(0))));
        }
      });
}

}  // namespace ab::net
