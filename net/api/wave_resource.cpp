#include "net/api/wave_resource.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "lifecycle/quotas.hpp"
#include "lifecycle/waves.hpp"
#include "net/api/api.hpp"
#include "net/api/codec.hpp"
#include "net/api/detail/reply_sink.hpp"
#include "net/api/preflight.hpp"

namespace ab::net {

namespace {

using json = nlohmann::json;

api_error bad(const std::string& code, const std::string& message, int status = 400) {
  return {status, code, message, 0};
}

caf::error denied(const auth::decision& d) {
  return ab::make_error(errc::forbidden, d.reason);
}

caf::error no_such_wave(storage::wave_id id) {
  return ab::make_error(errc::not_found, "wave plan " + std::to_string(id) + " does not exist");
}

struct resource_state {
  static inline const char* name = "wave_resource";
};

/// The resource's rules, run on its own (detached) thread.
class wave_rules {
 public:
  wave_rules(std::shared_ptr<storage::store> store, wave_resource_options options)
      : store_(std::move(store)), options_(std::move(options)) {}

  auth::decision allowed(const auth::identity& who, const auth::operation& what) const {
    if (!options_.auth) return {true, "the API is open"};
    return options_.auth->authorize(who, what);
  }
  auth::scope reach(const auth::identity& who) const {
    if (!options_.auth) return auth::scope::everything();
    return options_.auth->scope_of(who, "");
  }

  caf::expected<wave_reply> create(const create_wave_call& c) const {
    submit_command cmd;
    cmd.action = c.action;
    cmd.hosts = c.hosts;
    cmd.priority_class = c.priority_class;
    cmd.confirm_hosts = c.confirm_hosts;
    auto found = store_->find_hosts(c.hosts);
    if (!found) return found.error();
    std::map<std::string, const storage::host_record*> by_name;
    for (const auto& h : *found) by_name[h.name] = &h;
    auto visible = reach(c.who);
    std::vector<storage::host_record> ordered;
    for (const auto& name : c.hosts) {
      auto it = by_name.find(name);
      if (it == by_name.end() || !visible.covers(it->second->site, name))
        return make_error(api_errc::unknown_host,
                          "host '" + printable(name) + "' is not in the inventory");
      const auto& h = *it->second;
      if (auto d = allowed(c.who, {c.action, h.site, name, c.priority_class}); !d.allowed)
        return denied(d);
      auto plan = options_.rules->plan(c.action, h);
      if (!plan) return plan.error();
      ordered.push_back(h);
    }
    // A wave plan is one destructive call: its whole host count is confirmed and capped per
    // call; the hourly quota is charged wave by wave as they start.
    auto policy = options_.auth ? options_.auth->current() : nullptr;
    const auth::caller_limits limits =
        policy ? policy->limits_of(c.who, c.action) : auth::caller_limits{};
    const std::int64_t confirm_above =
        policy ? policy->confirm_above() : lifecycle::default_confirm_above;
    const std::optional<std::int64_t> hourly = limits.hosts_per_hour;
    auth::caller_limits per_call = limits;
    per_call.hosts_per_hour.reset();
    if (!c.dry_run) {
      auto admitted = admit_destructive(cmd, c.who, per_call, confirm_above, *store_, 0);
      if (!admitted) return admitted.error();
    }
    storage::wave_record w;
    w.action = c.action;
    w.priority_class = c.priority_class;
    w.created_by = c.who.name;
    w.group_by = c.group_by;
    w.max_unavailable = c.max_unavailable;
    w.wave_size = c.wave_size;
    w.pause_ms = c.pause_ms;
    w.failure_threshold = c.failure_threshold;
    w.quota_per_hour = hourly.value_or(0);
    w.hosts = lifecycle::plan_waves(ordered, c.group_by, c.max_unavailable, c.wave_size);
    w.waves_total = w.hosts.empty() ? 0 : w.hosts.back().wave_no;
    if (c.dry_run) {
      if (auto why = lifecycle::confirmation_refusal(
              c.action, static_cast<std::int64_t>(c.hosts.size()), c.confirm_hosts, confirm_above))
        w.reason = "would be refused: " + *why;
      return wave_reply{std::move(w), false, 0};
    }
    auto id = store_->create_wave(w);
    if (!id) return id.error();
    spdlog::info("api: wave plan {} of {} on {} hosts in {} waves by {}", *id, c.action,
                 c.hosts.size(), w.waves_total, c.who.name);
    return show(c.who, *id);
  }

  caf::expected<wave_reply> show(const auth::identity& who, storage::wave_id id) const {
    auto w = store_->wave(id);
    if (!w && is(w.error(), errc::not_found)) return no_such_wave(id);
    if (!w) return w.error();
    // Hosts outside every grant of the caller stay unnamed: only their number shows.
    std::vector<std::string> names;
    for (const auto& h : w->hosts) names.push_back(h.host);
    auto found = store_->find_hosts(names);
    if (!found) return found.error();
    std::set<std::string> seen;
    auto visible = reach(who);
    for (const auto& h : *found)
      if (visible.covers(h.site, h.name)) seen.insert(h.name);
    auto before = w->hosts.size();
    w->hosts.erase(std::remove_if(w->hosts.begin(), w->hosts.end(),
                                  [&](const auto& h) { return !seen.count(h.host); }),
                   w->hosts.end());
    auto hidden = before - w->hosts.size();
    return wave_reply{std::move(*w), true, hidden};
  }

  caf::expected<wave_list_reply> list(const list_waves_call& c) const {
    auto ws = store_->waves(c.filter);
    if (!ws) return ws.error();
    return wave_list_reply{std::move(*ws)};
  }

  caf::expected<wave_reply> stop(const stop_wave_call& c) const {
    auto w = show(c.who, c.id);
    if (!w) return w.error();
    if (auto d = allowed(c.who, {"cancel", "", "", ""}); !d.allowed) return denied(d);
    auto stopped = store_->stop_wave(c.id, "stopped through the API by " + c.who.name);
    if (!stopped) return stopped.error();
    if (!*stopped)
      return ab::make_error(errc::conflict, "wave plan " + std::to_string(c.id) + " is " +
                                                w->wave.state + ", not running");
    return show(c.who, c.id);
  }

 private:
  std::shared_ptr<storage::store> store_;
  wave_resource_options options_;
};

wave_actor::behavior_type wave_resource(wave_actor::stateful_pointer<resource_state>,
                                        std::shared_ptr<const wave_rules> rules) {
  return {
      [=](const create_wave_call& c) -> caf::result<wave_reply> { return rules->create(c); },
      [=](const get_wave_call& c) -> caf::result<wave_reply> { return rules->show(c.who, c.id); },
      [=](const list_waves_call& c) -> caf::result<wave_list_reply> { return rules->list(c); },
      [=](const stop_wave_call& c) -> caf::result<wave_reply> { return rules->stop(c); },
  };
}

std::optional<storage::wave_id> parse_wave_id(const std::string& s) {
  if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(s);
}

/// The whole number in field `key` of `doc` within [lo, hi], or an error.
std::optional<api_error> number_field(const json& doc, const char* key, std::int64_t lo,
                                      std::int64_t hi, std::int64_t& to) {
  if (!doc.contains(key)) return std::nullopt;
  const auto& v = doc[key];
  if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
    return bad("wrong_type", std::string{"field '"} + key + "' must be a whole number from " +
                                 std::to_string(lo) + " to " + std::to_string(hi));
  to = v.get<std::int64_t>();
  return std::nullopt;
}

http_response fail_with(const caf::error& err) {
  return error_response(to_api_error(err));
}

}  // namespace

wave_actor spawn_wave_resource(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                               wave_resource_options options) {
  auto rules = std::make_shared<const wave_rules>(std::move(store), std::move(options));
  return sys.spawn<caf::detached>(wave_resource, std::move(rules));
}

std::variant<api_error, create_wave_call> parse_wave_request(
    const std::string& body, const std::vector<std::string>& known_actions,
    const std::vector<std::string>& classes) {
  auto parsed = parse_object(body, 4);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& doc = std::get<json>(parsed);
  static const std::set<std::string> fields{
      "action",          "hosts",     "priority", "group_by",
      "max_unavailable", "wave_size", "pause_s",  "failure_threshold_pct",
      "confirm_hosts",   "dry_run"};
  for (const auto& item : doc.items())
    if (!fields.count(item.key()))
      return bad("unknown_field", "unknown field '" + printable(item.key()) + "'");
  create_wave_call c;
  if (!doc.contains("action") || !doc["action"].is_string())
    return bad("missing_field", "field 'action' is required");
  c.action = doc["action"].get<std::string>();
  if (std::find(known_actions.begin(), known_actions.end(), c.action) == known_actions.end())
    return bad("unknown_action", "unknown action '" + printable(c.action) + "'", 422);
  const auto& hs = doc.contains("hosts") ? doc["hosts"] : json{};
  if (!hs.is_array() || hs.empty() || hs.size() > 10000)
    return bad("wrong_type", "field 'hosts' must be an array of 1 to 10000 host names");
  std::set<std::string> distinct;
  for (const auto& h : hs) {
    if (!h.is_string() || !valid_host_name(h.get<std::string>()))
      return bad("invalid_host", "field 'hosts' must hold valid host names");
    if (!distinct.insert(h.get<std::string>()).second)
      return bad("invalid_host", "host '" + h.get<std::string>() + "' is named twice");
    c.hosts.push_back(h.get<std::string>());
  }
  if (doc.contains("priority")) {
    if (!doc["priority"].is_string() ||
        std::find(classes.begin(), classes.end(), doc["priority"].get<std::string>()) ==
            classes.end())
      return bad("unknown_priority", "unknown priority class", 422);
    c.priority_class = doc["priority"].get<std::string>();
  }
  if (doc.contains("group_by")) {
    if (doc["group_by"] != "rack" && doc["group_by"] != "service_group")
      return bad("wrong_type", "field 'group_by' must be \"rack\" or \"service_group\"");
    c.group_by = doc["group_by"].get<std::string>();
  }
  std::int64_t max_unavailable = c.max_unavailable, wave_size = c.wave_size, pause_s = 0,
               threshold = c.failure_threshold, confirm = -1;
  if (auto e = number_field(doc, "max_unavailable", 1, 10000, max_unavailable)) return *e;
  if (auto e = number_field(doc, "wave_size", 0, 10000, wave_size)) return *e;
  if (auto e = number_field(doc, "pause_s", 0, 7 * 86400, pause_s)) return *e;
  if (auto e = number_field(doc, "failure_threshold_pct", 0, 100, threshold)) return *e;
  if (auto e = number_field(doc, "confirm_hosts", 0, 10000, confirm)) return *e;
  c.max_unavailable = static_cast<int>(max_unavailable);
  c.wave_size = static_cast<int>(wave_size);
  c.pause_ms = pause_s * 1000;
  c.failure_threshold = static_cast<int>(threshold);
  if (confirm >= 0) c.confirm_hosts = confirm;
  if (doc.contains("dry_run")) {
    if (!doc["dry_run"].is_boolean()) return bad("wrong_type", "field 'dry_run' must be a boolean");
    c.dry_run = doc["dry_run"].get<bool>();
  }
  return c;
}

std::string encode_wave(const storage::wave_record& w, std::size_t hidden) {
  json out{{"id", w.id},
           {"action", w.action},
           {"priority", w.priority_class},
           {"state", w.state},
           {"created_by", w.created_by},
           {"created_at_ms", w.created_at},
           {"updated_at_ms", w.updated_at},
           {"group_by", w.group_by},
           {"max_unavailable", w.max_unavailable},
           {"wave_size", w.wave_size},
           {"pause_s", w.pause_ms / 1000},
           {"failure_threshold_pct", w.failure_threshold},
           {"waves_total", w.waves_total},
           {"current_wave", w.current_wave},
           {"next_at_ms", w.next_at},
           {"reason", w.reason}};
  if (!w.hosts.empty() || hidden > 0) {
    json waves = json::array();
    for (int k = 1; k <= w.waves_total; ++k) {
      auto t = lifecycle::tally(w, k);
      waves.push_back({{"wave", k},
                       {"hosts", t.hosts},
                       {"pending", t.pending},
                       {"running", t.running},
                       {"succeeded", t.succeeded},
                       {"failed", t.failed}});
    }
    json hosts = json::array();
    for (const auto& h : w.hosts) {
      json j{{"host", h.host}, {"wave", h.wave_no}, {"group", h.group}, {"state", h.state}};
      if (h.request) j["request"] = h.request;
      if (!h.error.empty()) j["error"] = h.error;
      hosts.push_back(std::move(j));
    }
    out["waves"] = std::move(waves);
    out["hosts"] = std::move(hosts);
    if (hidden > 0) out["hidden_hosts"] = hidden;
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

void serve_waves(caf::actor_system& sys, const wave_actor& to, const std::string& route,
                 const std::vector<std::string>& params, const std::string& query,
                 const http_request& req, const std::shared_ptr<call_context>& ctx,
                 const std::vector<std::string>& known_actions,
                 const std::vector<std::string>& classes, responder respond) {
  if (!to) return respond(error_response({404, "not_found", "this node serves no wave plans", 0}));
  caf::message msg;
  int status = 200;
  if (route == "POST /v1/waves") {
    auto call = parse_wave_request(req.body, known_actions, classes);
    if (auto* e = std::get_if<api_error>(&call)) return respond(error_response(*e));
    auto& c = std::get<create_wave_call>(call);
    c.who = ctx->who;
    ctx->entry.action += " " + c.action;
    ctx->entry.target = std::to_string(c.hosts.size()) + " hosts";
    ctx->unrecorded = c.dry_run;
    status = c.dry_run ? 200 : 201;
    msg = caf::make_message(std::move(c));
  } else if (route == "GET /v1/waves") {
    auto q = parse_query(query);
    if (auto* e = std::get_if<api_error>(&q)) return respond(error_response(*e));
    list_waves_call c{ctx->who, {}};
    for (const auto& [k, v] : std::get<std::map<std::string, std::string>>(q)) {
      auto n = parse_wave_id(v);
      if (k == "state" && (v == "running" || v == "stopped" || v == "succeeded"))
        c.filter.state = v;
      else if (k == "before" && n)
        c.filter.before = *n;
      else if (k == "limit" && n && *n >= 1 && *n <= 1000)
        c.filter.limit = static_cast<std::size_t>(*n);
      else
        return respond(
            error_response(bad("invalid_parameter", "bad query parameter '" + printable(k) + "'")));
    }
    msg = caf::make_message(std::move(c));
  } else {
    auto id = parse_wave_id(params.empty() ? "" : params[0]);
    if (!id)
      return respond(
          error_response({404, "not_found", "no wave plan '" + printable(params[0]) + "'", 0}));
    ctx->entry.target = "wave " + std::to_string(*id);
    if (route == "GET /v1/waves/{id}")
      msg = caf::make_message(get_wave_call{ctx->who, *id});
    else
      msg = caf::make_message(stop_wave_call{ctx->who, *id});
  }
  detail::request_to_sink(
      sys, caf::actor_cast<caf::strong_actor_ptr>(to), std::move(msg),
      [respond = std::move(respond), ctx, status](caf::message&& m) {
        if (m.match_elements<wave_reply>()) {
          const auto& r = m.get_as<wave_reply>(0);
          if (r.stored && r.wave.id) ctx->entry.detail = "wave " + std::to_string(r.wave.id);
          auto body = json::parse(encode_wave(r.wave, r.hidden));
          if (!r.stored) body["dry_run"] = true;
          return respond(
              json_response(status, body.dump(-1, ' ', false, json::error_handler_t::replace)));
        }
        if (m.match_elements<wave_list_reply>()) {
          std::string body = R"({"waves":[)";
          const auto& ws = m.get_as<wave_list_reply>(0).waves;
          for (std::size_t i = 0; i < ws.size(); ++i) body += (i ? "," : "") + encode_wave(ws[i]);
          return respond(json_response(200, body + "]}"));
        }
        if (m.match_elements<caf::error>()) return respond(fail_with(m.get_as<caf::error>(0)));
        respond(fail_with(ab::make_error(errc::store_failure, "unexpected reply of a resource")));
      });
}

}  // namespace ab::net
