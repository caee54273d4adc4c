#include "net/api.hpp"

#include <cstdio>
#include <regex>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "net/api_codec.hpp"
#include "net/api_error.hpp"

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

}  // namespace

std::string fingerprint(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

api_service::api_service(std::shared_ptr<storage::store> store, api_options options)
    : store_(std::move(store)),
      options_(std::move(options)),
      pool_(options_.threads, options_.max_in_flight) {}

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

  if (route == "GET /healthz") {
    respond(json_response(200, R"({"status":"ok"})"));
  } else if (route == "GET /v1/node") {
    if (options_.node_info)
      options_.node_info(std::move(respond));
    else
      respond(json_response(200, "{}"));
  } else if (route == "GET /readyz") {
    offload(respond, [this] {
      if (auto err = store_->ping()) return fail(err);
      return json_response(200, R"({"status":"ready"})");
    });
  } else if (route == "POST /v1/requests") {
    offload(respond, [this, req = std::move(req)] { return submit(req); });
  } else if (route == "GET /v1/requests") {
    auto filter = parse_request_query(query);
    if (auto* e = std::get_if<api_error>(&filter)) return respond(fail(*e));
    offload(respond, [this, f = std::get<storage::request_filter>(filter)] {
      auto page = store_->requests(f);
      return page ? json_response(200, encode_request_page(*page)) : fail(page.error());
    });
  } else if (route == "GET /v1/requests/{id}" || route == "POST /v1/requests/{id}/cancel") {
    auto id = parse_id(params[0]);
    if (!id) return respond(fail(api_error{404, "not_found", "no request '" + params[0] + "'", 0}));
    if (found->method[0] == 'G') {
      offload(respond, [this, id = *id] {
        auto r = store_->request(id);
        return r ? json_response(200, encode_request(*r)) : fail(r.error());
      });
    } else {
      offload(respond, [this, id = *id] {
        auto st = store_->cancel(id, "cancelled through the API");
        if (!st) return fail(st.error());
        return json_response(200, json{{"id", id}, {"state", storage::to_string(*st)}}.dump());
      });
    }
  } else if (route == "POST /v1/hosts") {
    auto hosts = parse_hosts(req.body);
    if (auto* e = std::get_if<api_error>(&hosts)) return respond(fail(*e));
    offload(respond, [this, hs = std::get<std::vector<storage::host_record>>(hosts)] {
      if (auto err = store_->put_hosts(hs)) return fail(err);
      return json_response(201, json{{"hosts", hs.size()}}.dump());
    });
  } else if (route == "GET /v1/hosts") {
    auto q = parse_query(query);
    if (auto* e = std::get_if<api_error>(&q)) return respond(fail(*e));
    storage::host_filter f;
    for (const auto& [k, v] : std::get<std::map<std::string, std::string>>(q)) {
      if (k == "site")
        f.site = v;
      else if (k == "state")
        f.lifecycle_state = v;
      else if (k == "after")
        f.after = v;
      else if (k == "limit" && !v.empty() && v.size() < 6 &&
               v.find_first_not_of("0123456789") == std::string::npos && std::stoi(v) > 0)
        f.limit = static_cast<std::size_t>(std::stoi(v));
      else
        return respond(
            fail(api_error{400, "invalid_parameter", "bad query parameter '" + k + "'", 0}));
    }
    offload(respond, [this, f] {
      auto hs = store_->hosts(f);
      if (!hs) return fail(hs.error());
      std::string body = R"({"hosts":[)";
      for (std::size_t i = 0; i < hs->size(); ++i) body += (i ? "," : "") + encode_host((*hs)[i]);
      return json_response(200, body + "]}");
    });
  } else {
    // GET, PATCH, DELETE /v1/hosts/{name}
    auto name = params[0];
    auto method = std::string{found->method};
    offload(respond, [this, name, method, body = req.body] {
      if (method == "DELETE") {
        if (auto err = store_->delete_host(name)) return fail(err);
        return json_response(204, "");
      }
      auto h = store_->host(name);
      if (!h) return fail(h.error());
      if (method == "GET") return json_response(200, encode_host(*h));
      auto patched = parse_host_patch(body, *h);
      if (auto* e = std::get_if<api_error>(&patched)) return fail(*e);
      if (auto err = store_->put_hosts({std::get<storage::host_record>(patched)})) return fail(err);
      auto now = store_->host(name);
      return now ? json_response(200, encode_host(*now)) : fail(now.error());
    });
  }
}

http_response api_service::submit(const http_request& req) {
  auto parsed = parse_submit(req.body, options_.actions, options_.classes);
  if (auto* e = std::get_if<api_error>(&parsed)) return fail(*e);
  const auto& cmd = std::get<submit_command>(parsed);
  std::string key;
  if (auto it = req.headers.find("idempotency-key"); it != req.headers.end()) {
    key = it->second;
    if (key.empty() || key.size() > 255)
      return fail(
          api_error{400, "invalid_header", "Idempotency-Key must be 1 to 255 characters", 0});
  }
  auto chain = options_.chain_of(cmd.action);
  std::vector<storage::request_spec> specs;
  for (const auto& name : cmd.hosts) {
    auto h = store_->host(name);
    if (!h) {
      if (is(h.error(), errc::not_found))
        return fail(api_error{422, "unknown_host",
                              "host '" + name +
                                  "' is not in the inventory; "
                                  "register it with POST /v1/hosts",
                              0});
      return fail(h.error());
    }
    storage::request_spec s;
    s.action = cmd.action;
    s.host = name;
    s.site = h->site;
    s.priority_class = cmd.priority_class;
    s.submitter = "anonymous";
    s.idempotency_key = key;
    s.fingerprint = key.empty() ? "" : fingerprint(req.body);
    s.params = cmd.params;
    s.chain = chain;
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
  return json_response(202, encode_outcomes(cmd.hosts, *out));
}

}  // namespace ab::net
