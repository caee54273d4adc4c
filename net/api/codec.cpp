#include "net/api/codec.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "core/site_name.hpp"

namespace ab::net {

namespace {

using json = nlohmann::json;

/// Deepest nesting of arrays and objects a body may have. Encoding a value recurses once per
/// level, so a deeper body (a few hundred kilobytes of `[`) would overflow the stack.
constexpr int max_depth = 64;

/// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD, so that an error
/// message quoting the input can travel in a JSON body.
std::string valid_utf8(const std::string& s) {
  auto quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return json::parse(quoted).get<std::string>();
}

api_error bad(const std::string& code, const std::string& message, int status = 400) {
  return {status, code, valid_utf8(message), 0};
}

}  // namespace

std::string printable(const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 64; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return s.size() > 64 ? out + "…" : out;
}

namespace {

std::string invalid_host_message(const std::string& name) {
  return "host name '" + printable(name) +
         "' is invalid: 1 to 253 letters, digits, '.', '_' and '-', starting with a letter or "
         "digit";
}

std::string invalid_site_message(const std::string& name) {
  return "site name '" + printable(name) +
         "' is invalid: 1 to 63 lowercase letters, digits and '-', starting with a letter or "
         "digit";
}

/// Refuses fields outside `allowed`, naming the first such field.
std::optional<api_error> only_fields(const json& doc, std::initializer_list<const char*> allowed) {
  for (const auto& item : doc.items()) {
    const auto& key = item.key();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }))
      return bad("unknown_field", "unknown field '" + printable(key) + "'");
  }
  return std::nullopt;
}

std::optional<api_error> string_field(const json& doc, const char* key, std::string& out,
                                      bool required) {
  if (!doc.contains(key)) {
    if (required) return bad("missing_field", std::string{"field '"} + key + "' is required");
    return std::nullopt;
  }
  if (!doc[key].is_string() || doc[key].get<std::string>().empty())
    return bad("wrong_type", std::string{"field '"} + key + "' must be a non-empty string");
  out = doc[key].get<std::string>();
  return std::nullopt;
}

/// The refusal of a BMC endpoint that is not an https://, http:// or ipmi:// URL, or none.
std::optional<api_error> endpoint_scheme_error(const std::string& endpoint) {
  if (endpoint.rfind("https://", 0) != 0 && endpoint.rfind("http://", 0) != 0 &&
      endpoint.rfind("ipmi://", 0) != 0)
    return bad("invalid_field", "bmc_endpoint must be an https://, http:// or ipmi:// URL");
  return std::nullopt;
}

/// A rack or power domain is at most 64 bytes of A-Z a-z 0-9 . _ - (or empty).
std::optional<api_error> placement_error(const std::string& rack, const std::string& domain) {
  for (const auto* value : {&rack, &domain})
    if (value->size() > 64 || !std::all_of(value->begin(), value->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
        }))
      return bad("invalid_field", "rack and power_domain are at most 64 of A-Z a-z 0-9 . _ -");
  return std::nullopt;
}

std::variant<storage::host_record, api_error> parse_host_object(const json& doc) {
  if (!doc.is_object()) return bad("wrong_type", "a host must be a JSON object");
  if (auto e = only_fields(
          doc, {"name", "site", "bmc_endpoint", "credential_ref", "rack", "power_domain"}))
    return *e;
  storage::host_record h;
  if (auto e = string_field(doc, "name", h.name, true)) return *e;
  if (auto e = string_field(doc, "site", h.site, true)) return *e;
  if (auto e = string_field(doc, "bmc_endpoint", h.bmc_endpoint, true)) return *e;
  if (auto e = string_field(doc, "credential_ref", h.credential_ref, true)) return *e;
  if (auto e = string_field(doc, "rack", h.rack, false)) return *e;
  if (auto e = string_field(doc, "power_domain", h.power_domain, false)) return *e;
  if (auto e = placement_error(h.rack, h.power_domain)) return *e;
  if (!valid_host_name(h.name)) return bad("invalid_host", invalid_host_message(h.name));
  if (!valid_site_name(h.site)) return bad("invalid_site", invalid_site_message(h.site));
  if (auto e = endpoint_scheme_error(h.bmc_endpoint)) return *e;
  return h;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool valid_host_name(const std::string& name) {
  // ASCII only, by byte: no control characters, whitespace, bidi or zero-width marks.
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  return !name.empty() && name.size() <= max_host_name && alnum(name.front()) &&
         std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool valid_site_name(const std::string& name) {
  return ab::valid_site_name(name);
}

std::string canonical_call(const submit_command& cmd) {
  return json{{"action", cmd.action},
              {"hosts", cmd.hosts},
              {"priority", cmd.priority_class},
              {"params", json::parse(cmd.params, nullptr, false)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::variant<submit_command, api_error> parse_submit(const std::string& body,
                                                     const std::vector<std::string>& known_actions,
                                                     const std::vector<std::string>& classes) {
  auto parsed = parse_object(body, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& doc = std::get<json>(parsed);
  if (auto e = only_fields(doc, {"action", "host", "hosts", "priority", "params", "dry_run",
                                 "confirm_hosts", "whole_call_hosts"}))
    return *e;
  submit_command cmd;
  if (auto e = string_field(doc, "action", cmd.action, true)) return *e;
  if (std::find(known_actions.begin(), known_actions.end(), cmd.action) == known_actions.end())
    return bad("unknown_action", "unknown action '" + cmd.action + "'", 422);
  if (doc.contains("host") == doc.contains("hosts"))
    return bad("missing_field", "give exactly one of 'host' or 'hosts'");
  if (doc.contains("host")) {
    std::string h;
    if (auto e = string_field(doc, "host", h, true)) return *e;
    cmd.hosts.push_back(h);
  } else {
    const auto& hs = doc["hosts"];
    if (!hs.is_array() || hs.empty() || hs.size() > 10000)
      return bad("wrong_type", "field 'hosts' must be an array of 1 to 10000 host names");
    for (const auto& h : hs) {
      if (!h.is_string()) return bad("wrong_type", "field 'hosts' must hold strings");
      cmd.hosts.push_back(h.get<std::string>());
    }
  }
  for (const auto& h : cmd.hosts)
    if (!valid_host_name(h)) return bad("invalid_host", invalid_host_message(h));
  if (doc.contains("priority")) {
    if (auto e = string_field(doc, "priority", cmd.priority_class, true)) return *e;
    if (std::find(classes.begin(), classes.end(), cmd.priority_class) == classes.end())
      return bad("unknown_priority", "unknown priority class '" + cmd.priority_class + "'", 422);
  }
  if (doc.contains("params")) {
    if (!doc["params"].is_object()) return bad("wrong_type", "field 'params' must be an object");
    cmd.params = doc["params"].dump();
  }
  if (doc.contains("dry_run")) {
    if (!doc["dry_run"].is_boolean()) return bad("wrong_type", "field 'dry_run' must be a boolean");
    cmd.dry_run = doc["dry_run"].get<bool>();
  }
  if (doc.contains("confirm_hosts")) {
    const auto& n = doc["confirm_hosts"];
    if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > 10000)
      return bad("wrong_type", "field 'confirm_hosts' must be a whole number from 0 to 10000");
    cmd.confirm_hosts = n.get<std::int64_t>();
  }
  if (doc.contains("whole_call_hosts")) {
    const auto& n = doc["whole_call_hosts"];
    const auto named = static_cast<std::int64_t>(cmd.hosts.size());
    if (!n.is_number_integer() || n.get<std::int64_t>() < named ||
        n.get<std::int64_t>() > 1'000'000)
      return bad("wrong_type",
                 "field 'whole_call_hosts' must be a whole number from the body's host count (" +
                     std::to_string(named) + ") to 1000000");
    cmd.whole_call_hosts = n.get<std::int64_t>();
  }
  return cmd;
}

std::int64_t call_host_count(const submit_command& cmd) {
  return std::max(static_cast<std::int64_t>(cmd.hosts.size()), cmd.whole_call_hosts.value_or(0));
}

std::variant<std::vector<storage::host_record>, api_error> parse_hosts(const std::string& body) {
  auto parsed = parse_object(body, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& doc = std::get<json>(parsed);
  std::vector<storage::host_record> out;
  if (doc.contains("hosts")) {
    if (auto e = only_fields(doc, {"hosts"})) return *e;
    if (!doc["hosts"].is_array() || doc["hosts"].empty() || doc["hosts"].size() > 10000)
      return bad("wrong_type", "field 'hosts' must be an array of 1 to 10000 hosts");
    for (const auto& h : doc["hosts"]) {
      auto one = parse_host_object(h);
      if (auto* e = std::get_if<api_error>(&one)) return *e;
      out.push_back(std::get<storage::host_record>(one));
    }
    return out;
  }
  auto one = parse_host_object(doc);
  if (auto* e = std::get_if<api_error>(&one)) return *e;
  out.push_back(std::get<storage::host_record>(one));
  return out;
}

std::variant<host_changes, api_error> parse_host_changes(const std::string& body) {
  auto parsed = parse_object(body, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& doc = std::get<json>(parsed);
  if (auto e = only_fields(doc, {"site", "bmc_endpoint", "credential_ref", "rack", "power_domain"}))
    return *e;
  host_changes out;
  auto field = [&](const char* key, std::optional<std::string>& to) -> std::optional<api_error> {
    if (!doc.contains(key)) return std::nullopt;
    std::string value;
    if (auto e = string_field(doc, key, value, false)) return e;
    to = std::move(value);
    return std::nullopt;
  };
  if (auto e = field("site", out.site)) return *e;
  if (auto e = field("bmc_endpoint", out.bmc_endpoint)) return *e;
  if (auto e = field("credential_ref", out.credential_ref)) return *e;
  if (auto e = field("rack", out.rack)) return *e;
  if (auto e = field("power_domain", out.power_domain)) return *e;
  if (auto e = placement_error(out.rack.value_or(""), out.power_domain.value_or(""))) return *e;
  if (out.site && !valid_site_name(*out.site))
    return bad("invalid_site", invalid_site_message(*out.site));
  // The same checks as POST makes, before the host is looked up: a bad body is a 400 whether
  // or not the host exists.
  if (out.bmc_endpoint)
    if (auto e = endpoint_scheme_error(*out.bmc_endpoint)) return *e;
  return out;
}

storage::host_record apply_changes(const host_changes& changes, storage::host_record host) {
  if (changes.site) host.site = *changes.site;
  if (changes.bmc_endpoint) host.bmc_endpoint = *changes.bmc_endpoint;
  if (changes.credential_ref) host.credential_ref = *changes.credential_ref;
  if (changes.rack) host.rack = *changes.rack;
  if (changes.power_domain) host.power_domain = *changes.power_domain;
  return host;
}

std::variant<storage::host_record, api_error> parse_host_patch(const std::string& body,
                                                               storage::host_record host) {
  auto changes = parse_host_changes(body);
  if (auto* e = std::get_if<api_error>(&changes)) return *e;
  host = apply_changes(std::get<host_changes>(changes), std::move(host));
  if (!valid_site_name(host.site)) return bad("invalid_site", invalid_site_message(host.site));
  return host;
}

std::variant<std::map<std::string, std::string>, api_error> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  auto decode = [](const std::string& s) -> std::optional<std::string> {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+')
        r += ' ';
      else if (s[i] != '%')
        r += s[i];
      else {
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
        r += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      }
    }
    return r;
  };
  std::size_t pos = 0;
  while (pos < query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto key = decode(part.substr(0, eq));
    auto val = decode(eq == std::string::npos ? "" : part.substr(eq + 1));
    if (!key || !val) return bad("malformed_query", "bad percent-encoding in the query string");
    out[*key] = *val;
  }
  return out;
}

std::variant<callback_report, api_error> parse_callback(const std::string& body) {
  auto parsed = parse_object(body, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& doc = std::get<json>(parsed);
  if (auto e = only_fields(doc, {"status", "message", "details"})) return *e;
  if (!doc.contains("status")) return bad("missing_field", "field 'status' is required");
  if (doc["status"] != "succeeded" && doc["status"] != "failed")
    return bad("invalid_field", "'status' must be \"succeeded\" or \"failed\"");
  if (doc.contains("message") && !doc["message"].is_string())
    return bad("wrong_type", "field 'message' must be a string");
  if (doc.contains("details") && !doc["details"].is_object())
    return bad("wrong_type", "field 'details' must be an object");
  callback_report r;
  r.succeeded = doc["status"] == "succeeded";
  // Invalid UTF-8 in strings is replaced rather than refused: the report is kept as evidence.
  r.payload = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::variant<storage::request_filter, api_error> parse_request_query(const std::string& query) {
  auto parsed = parse_query(query);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  storage::request_filter f;
  auto number = [](const std::string& s, std::int64_t& out) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    out = std::stoll(s);
    return true;
  };
  for (const auto& [key, val] : std::get<std::map<std::string, std::string>>(parsed)) {
    std::int64_t n = 0;
    if (key == "state") {
      f.state = storage::parse_request_state(val);
      if (!f.state) return bad("invalid_parameter", "unknown state '" + val + "'");
    } else if (key == "host") {
      if (!valid_host_name(val)) return bad("invalid_parameter", invalid_host_message(val));
      f.host = val;
    } else if (key == "action") {
      f.action = val;
    } else if (key == "site") {
      if (!valid_site_name(val)) return bad("invalid_parameter", invalid_site_message(val));
      f.site = val;
    } else if (key == "since") {
      if (!number(val, n)) return bad("invalid_parameter", "since must be epoch milliseconds");
      f.since = n;
    } else if (key == "cursor") {
      if (!number(val, n)) return bad("invalid_parameter", "cursor must be a request id");
      f.before = n;
    } else if (key == "limit") {
      if (!number(val, n) || n < 1 || n > 1000)
        return bad("invalid_parameter", "limit must be from 1 to 1000");
      f.limit = static_cast<std::size_t>(n);
    } else {
      return bad("unknown_parameter", "unknown query parameter '" + key + "'");
    }
  }
  return f;
}

std::variant<storage::host_filter, api_error> parse_host_query(const std::string& query) {
  auto parsed = parse_query(query);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  storage::host_filter f;
  for (const auto& [k, v] : std::get<std::map<std::string, std::string>>(parsed)) {
    if (k == "site") {
      if (!valid_site_name(v)) return bad("invalid_parameter", invalid_site_message(v));
      f.site = v;
    } else if (k == "state" && !v.empty() && v.size() <= 32) {
      f.lifecycle_state = v;
    } else if (k == "after") {
      if (!valid_host_name(v)) return bad("invalid_parameter", invalid_host_message(v));
      f.after = v;
    } else if (k == "limit" && !v.empty() && v.size() < 6 &&
               v.find_first_not_of("0123456789") == std::string::npos && std::stoi(v) > 0) {
      f.limit = static_cast<std::size_t>(std::stoi(v));
    } else {
      return bad("invalid_parameter", "bad query parameter '" + printable(k) + "'");
    }
  }
  return f;
}

namespace {

json request_json(const storage::request_view& r) {
  json j{{"id", r.id},
         {"action", r.action},
         {"host", r.host},
         {"site", r.site},
         {"priority", r.priority_class},
         {"submitter", r.submitter},
         {"state", storage::to_string(r.state)},
         {"created_at", r.created_at}};
  if (!r.error.empty()) j["error"] = r.error;
  if (r.started_at) j["started_at"] = r.started_at;
  if (r.finished_at) j["finished_at"] = r.finished_at;
  if (r.chain_length > 0) j["progress"] = {{"done", r.jobs_done}, {"total", r.chain_length}};
  if (r.eta_at_submission > 0) j["eta_at_submission_ms"] = r.eta_at_submission;
  return j;
}

void add_eta(json& j, const storage::request_view& r,
             const std::optional<lifecycle::estimate>& eta) {
  if (!eta || storage::is_terminal(r.state)) return;
  j["eta"] = {{"at_ms", eta->at},
              {"earliest_ms", eta->earliest},
              {"latest_ms", eta->latest},
              {"basis", eta->basis}};
}

}  // namespace

std::string encode_request(const storage::request_view& r,
                           const std::optional<std::string>& waiting_for,
                           const std::optional<lifecycle::estimate>& eta) {
  auto j = request_json(r);
  if (waiting_for) j["waiting_for"] = *waiting_for;
  add_eta(j, r, eta);
  j["params"] = json::parse(r.params.empty() ? "{}" : r.params, nullptr, false);
  j["jobs"] = json::array();
  for (const auto& job : r.jobs) {
    json jj{{"position", job.position},
            {"type", job.type},
            {"state", storage::to_string(job.state)},
            {"attempts", job.attempts},
            {"max_attempts", job.max_attempts}};
    if (job.started_at) jj["started_at"] = job.started_at;
    if (job.finished_at) jj["finished_at"] = job.finished_at;
    if (!job.error.empty()) jj["error"] = job.error;
    if (!job.result.empty()) jj["result"] = json::parse(job.result, nullptr, false);
    j["jobs"].push_back(std::move(jj));
  }
  return j.dump();
}

std::string encode_request_page(const storage::request_page& page,
                                const std::vector<std::optional<lifecycle::estimate>>& etas) {
  json j{{"requests", json::array()}};
  for (std::size_t i = 0; i < page.items.size(); ++i) {
    auto item = request_json(page.items[i]);
    if (i < etas.size()) add_eta(item, page.items[i], etas[i]);
    j["requests"].push_back(std::move(item));
  }
  if (page.next_cursor) j["next_cursor"] = std::to_string(page.next_cursor);
  return j.dump();
}

std::string encode_queue(const std::string& site,
                         const std::vector<std::pair<std::string, lifecycle::queue_line>>& lines) {
  json clusters = json::array();
  for (const auto& [cluster, q] : lines)
    clusters.push_back({{"cluster", cluster},
                        {"job_type", q.job_type},
                        {"action", q.action},
                        {"class", q.priority_class},
                        {"depth", q.depth},
                        {"oldest_wait_ms", q.oldest_wait_ms},
                        {"completed_per_min", q.completed_per_min}});
  return json{{"site", site}, {"clusters", std::move(clusters)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::string encode_host(const storage::host_record& h) {
  return json{{"name", h.name},
              {"site", h.site},
              {"bmc_endpoint", h.bmc_endpoint},
              {"credential_ref", h.credential_ref},
              {"lifecycle_state", h.lifecycle_state},
              {"facts", json::parse(h.facts.empty() ? "{}" : h.facts, nullptr, false)},
              {"rack", h.rack},
              {"power_domain", h.power_domain},
              {"created_at", h.created_at},
              {"updated_at", h.updated_at}}
      .dump();
}

std::string encode_outcomes(const std::vector<std::string>& hosts,
                            const std::vector<storage::submit_outcome>& outcomes) {
  json j{{"requests", json::array()}};
  for (std::size_t i = 0; i < outcomes.size() && i < hosts.size(); ++i) {
    const auto& o = outcomes[i];
    json e{{"host", hosts[i]}, {"id", o.id}};
    switch (o.what) {
      case storage::submit_outcome::status::created:
      case storage::submit_outcome::status::existing:
        e["status"] = "accepted";
        break;
      case storage::submit_outcome::status::host_busy:
        e["status"] = "refused";
        e["error"] = {{"code", "host_busy"},
                      {"message", "host '" + hosts[i] + "' already has active request " +
                                      std::to_string(o.id)}};
        break;
      case storage::submit_outcome::status::held:
        e["status"] = "refused";
        e["error"] = {{"code", "host_held"}, {"message", o.reason}};
        break;
      case storage::submit_outcome::status::key_conflict:
        e["status"] = "refused";
        e["error"] = {{"code", "idempotency_conflict"},
                      {"message", "the Idempotency-Key was used before with another body"}};
        break;
    }
    j["requests"].push_back(std::move(e));
  }
  return j.dump();
}

std::variant<nlohmann::json, api_error> parse_object(const std::string& body, int max_depth) {
  bool too_deep = false;
  auto limit_depth = [&](int depth, json::parse_event_t event, json&) {
    if (depth >= max_depth &&
        (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start))
      too_deep = true;
    // Once too deep, keep nothing: the rest is scanned but never built.
    return !too_deep;
  };
  json doc;
  try {
    doc = json::parse(body, limit_depth);
  } catch (const json::exception& e) {
    // Mostly parse_error; a number too large for a double (1e999) is an out_of_range.
    return bad("malformed_json", std::string{"the body is not valid JSON: "} + e.what());
  }
  if (too_deep)
    return bad("too_deep", "the body nests arrays and objects more than " +
                               std::to_string(max_depth) + " levels deep");
  if (!doc.is_object()) return bad("wrong_type", "the body must be a JSON object");
  return doc;
}

}  // namespace ab::net
