#include "net/api/cluster_map_resource.hpp"

#include <algorithm>

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

/// The deepest nesting a body may have: a map is five levels deep (body, map, clusters, a
/// cluster, its actions).
constexpr int max_depth = 8;

api_error bad(const std::string& code, const std::string& message, int status = 400) {
  return {status, code, message, 0};
}

/// The body as a JSON object whose fields are all in `allowed`, or what is wrong with it.
std::variant<api_error, json> object_of(const std::string& body,
                                        std::initializer_list<const char*> allowed) {
  if (body.size() > 2 * config::cluster_map_max_bytes)
    return bad("too_large", "the body is larger than " +
                                std::to_string(2 * config::cluster_map_max_bytes) + " bytes");
  auto parsed = parse_object(body, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  auto doc = std::get<json>(std::move(parsed));
  for (const auto& item : doc.items())
    if (std::none_of(allowed.begin(), allowed.end(),
                     [&](const char* a) { return item.key() == a; }))
      return bad("unknown_field", "unknown field '" + printable(item.key()) + "'");
  for (const auto* key : allowed)
    if (!doc.contains(key))
      return bad("missing_field", std::string{"field '"} + key + "' is required");
  return doc;
}

caf::error denied(const auth::decision& d) {
  return ab::make_error(errc::forbidden, d.reason);
}

/// The sentence of an error of category `ab`, without its code.
std::string sentence_of(const caf::error& err) {
  return err.context().match_elements<std::string>() ? err.context().get_as<std::string>(0)
                                                     : message_of(err);
}

/// The call's error as the API answers it: a cluster the map lacks, a map the parser refuses.
caf::error api_error_of(const caf::error& err) {
  if (is(err, errc::not_found)) return make_error(api_errc::unknown_cluster, sentence_of(err));
  if (is(err, errc::bad_config)) return make_error(api_errc::invalid_cluster_map, sentence_of(err));
  return err;
}

struct resource_state {
  static inline const char* name = "cluster_map_resource";
};

cluster_map_actor::behavior_type cluster_map_resource(
    cluster_map_actor::stateful_pointer<resource_state>,
    const std::shared_ptr<storage::cluster_map_store>& store,
    const cluster_map_resource_options& options) {
  auto allowed = [options](const auth::identity& who, const char* action) -> auth::decision {
    if (!options.auth) return {true, "the API is open"};
    return options.auth->authorize(who, {action, options.site, "", ""});
  };
  auto reply = [](caf::expected<config::site_cluster_map> m) -> caf::result<cluster_map_reply> {
    if (!m) return api_error_of(m.error());
    return cluster_map_reply{std::move(*m)};
  };
  return {
      [=](const get_cluster_map_call& c) -> caf::result<cluster_map_reply> {
        if (auto d = allowed(c.who, "cluster.read"); !d.allowed) return denied(d);
        return reply(config::read_site_cluster_map(*store));
      },
      [=](const put_cluster_map_call& c) -> caf::result<cluster_map_reply> {
        if (auto d = allowed(c.who, "cluster.write"); !d.allowed) return denied(d);
        return reply(
            config::change_site_cluster_map(*store, c.map, c.if_version, {c.who.name, c.source}));
      },
      [=](const move_node_call& c) -> caf::result<cluster_map_reply> {
        if (auto d = allowed(c.who, "cluster.write"); !d.allowed) return denied(d);
        return reply(config::move_node(*store, c.node, c.cluster, {c.who.name, c.source}));
      },
  };
}

http_response fail(const caf::error& err) {
  return error_response(to_api_error(err));
}

}  // namespace

cluster_map_actor spawn_cluster_map_resource(caf::actor_system& sys,
                                             std::shared_ptr<storage::cluster_map_store> store,
                                             cluster_map_resource_options options) {
  return sys.spawn<caf::detached>(cluster_map_resource, std::move(store), std::move(options));
}

std::variant<api_error, put_cluster_map_call> parse_cluster_map_put(const std::string& body) {
  auto doc = object_of(body, {"map", "if_version"});
  if (auto* e = std::get_if<api_error>(&doc)) return *e;
  auto& j = std::get<json>(doc);
  const auto& v = j["if_version"];
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
    return bad("wrong_type",
               "field 'if_version' must be the version the change is based on (0 or more)");
  if (!j["map"].is_object())
    return bad("wrong_type", "field 'map' must be a cluster map (a JSON object)");
  auto map = config::parse_cluster_map(j["map"].dump(), "map");
  if (!map) return bad("invalid_cluster_map", sentence_of(map.error()), 422);
  put_cluster_map_call out;
  out.map = std::move(*map);
  out.if_version = v.get<std::int64_t>();
  return out;
}

std::variant<api_error, move_node_call> parse_cluster_map_move(const std::string& body) {
  auto doc = object_of(body, {"node", "cluster"});
  if (auto* e = std::get_if<api_error>(&doc)) return *e;
  auto& j = std::get<json>(doc);
  move_node_call out;
  for (auto [key, field] : {std::pair{"node", &out.node}, std::pair{"cluster", &out.cluster}}) {
    if (!j[key].is_string() || j[key].get<std::string>().empty())
      return bad("wrong_type", std::string{"field '"} + key + "' must be a non-empty string");
    *field = j[key].get<std::string>();
  }
  if (!config::valid_node_name(out.node))
    return bad("invalid_field", "node: a node id is 1 to 128 of A-Z a-z 0-9 . _ : -");
  return out;
}

std::string encode_cluster_map(const config::site_cluster_map& m) {
  return json{{"version", m.version},
              {"map", json::parse(config::to_json(m.map))},
              {"changed_at_ms", m.changed_at},
              {"changed_by", m.changed_by}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

void serve_cluster_map(caf::actor_system& sys, const cluster_map_actor& to,
                       const std::string& route, const http_request& req,
                       const std::shared_ptr<call_context>& ctx, responder respond) {
  if (!to) return respond(error_response({404, "not_found", "this node serves no cluster map", 0}));
  caf::message msg;
  if (route == "GET /v1/cluster-map") {
    msg = caf::make_message(get_cluster_map_call{ctx->who});
  } else if (route == "PUT /v1/cluster-map") {
    auto call = parse_cluster_map_put(req.body);
    if (auto* e = std::get_if<api_error>(&call)) return respond(error_response(*e));
    auto& c = std::get<put_cluster_map_call>(call);
    c.who = ctx->who;
    c.source = ctx->entry.source;
    ctx->entry.detail = "if_version " + std::to_string(c.if_version);
    msg = caf::make_message(std::move(c));
  } else {
    // POST /v1/cluster-map/moves
    auto call = parse_cluster_map_move(req.body);
    if (auto* e = std::get_if<api_error>(&call)) return respond(error_response(*e));
    auto& c = std::get<move_node_call>(call);
    c.who = ctx->who;
    c.source = ctx->entry.source;
    ctx->entry.target = c.node;
    ctx->entry.detail = "to " + printable(c.cluster);
    msg = caf::make_message(std::move(c));
  }
  bool changing = route != "GET /v1/cluster-map";
  detail::request_to_sink(
      sys, caf::actor_cast<caf::strong_actor_ptr>(to), std::move(msg),
      [respond = std::move(respond), ctx, changing](caf::message&& m) {
        if (m.match_elements<cluster_map_reply>()) {
          const auto& r = m.get_as<cluster_map_reply>(0);
          if (changing) ctx->entry.detail += ", version " + std::to_string(r.map.version);
          return respond(json_response(200, encode_cluster_map(r.map)));
        }
        if (m.match_elements<caf::error>()) return respond(fail(m.get_as<caf::error>(0)));
        respond(fail(ab::make_error(errc::store_failure, "unexpected reply of a resource")));
      });
}

}  // namespace ab::net
