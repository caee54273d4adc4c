#include "router/split.hpp"

#include <map>

#include "net/api/codec.hpp"

namespace ab::router {

namespace {

using json = nlohmann::json;

json parse_or_null(const std::string& text) {
  return json::parse(text, nullptr, false);
}

/// The `error` object of an error body, or one made up from the status.
json error_of(const part_outcome& p) {
  auto doc = parse_or_null(p.body);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) return doc["error"];
  return {{"code", "node_error"},
          {"message", "site " + p.site + " answered " + std::to_string(p.status)}};
}

bool ok(int status) {
  return status >= 200 && status < 300;
}

json sites_of(const std::vector<part_outcome>& parts) {
  json out = json::array();
  for (const auto& p : parts) {
    json s{{"site", p.site}, {"status", p.status}, {"hosts", p.hosts}};
    if (!ok(p.status)) s["error"] = error_of(p);
    out.push_back(std::move(s));
  }
  return out;
}

/// The status of a merged answer: `all_ok` when every part succeeded, the one status when
/// every part failed alike, 207 otherwise.
int merged_status(const std::vector<part_outcome>& parts, int all_ok) {
  bool every_ok = true, same = true;
  for (const auto& p : parts) {
    every_ok = every_ok && ok(p.status);
    same = same && p.status == parts.front().status;
  }
  if (every_ok) return all_ok;
  if (same && !parts.empty()) return parts.front().status;
  return 207;
}

net::http_response answer(int status, json body, const std::vector<part_outcome>& parts) {
  if (!ok(status) && status != 207 && !parts.empty()) body["error"] = error_of(parts.front());
  return net::json_response(status, body.dump());
}

}  // namespace

std::variant<submission, net::api_error> read_submission(const std::string& body) {
  submission s;
  s.doc = parse_or_null(body);
  if (!s.doc.is_object()) return s;
  if (s.doc.contains("site")) {
    const auto& site = s.doc["site"];
    if (!site.is_string() || !net::valid_site_name(site.get<std::string>()))
      return net::api_error{400, "invalid_site",
                            "field 'site' must be a site name (1 to 63 of a-z, 0-9 and -)", 0};
    s.site = site.get<std::string>();
    s.doc.erase("site");
  }
  // Set by the router itself when it splits a call (submission_part): never the caller's.
  s.doc.erase("whole_call_hosts");
  std::vector<std::string> hosts;
  if (s.doc.contains("host") && s.doc["host"].is_string() && !s.doc.contains("hosts")) {
    hosts.push_back(s.doc["host"].get<std::string>());
  } else if (s.doc.contains("hosts") && s.doc["hosts"].is_array() && !s.doc.contains("host")) {
    for (const auto& h : s.doc["hosts"]) {
      if (!h.is_string()) return s;
      hosts.push_back(h.get<std::string>());
    }
  }
  for (const auto& h : hosts)
    if (!net::valid_host_name(h)) return s;
  s.hosts = std::move(hosts);
  return s;
}

std::string submission_part(const submission& s, const std::vector<std::string>& hosts) {
  auto doc = s.doc;
  if (doc.contains("host") && hosts.size() == 1) return doc.dump();
  doc.erase("host");
  doc["hosts"] = hosts;
  // A part of a call split over sites: the node confirms and caps it as the whole call.
  if (hosts.size() < s.hosts.size()) doc["whole_call_hosts"] = s.hosts.size();
  return doc.dump();
}

registration read_registration(const std::string& body) {
  registration r;
  auto doc = parse_or_null(body);
  if (!doc.is_object()) return r;
  if (doc.contains("hosts")) {
    if (!doc["hosts"].is_array() || doc.size() != 1) return r;
    for (const auto& h : doc["hosts"]) r.hosts.push_back(h);
  } else {
    r.hosts.push_back(doc);
  }
  for (const auto& h : r.hosts) {
    if (!h.is_object() || !h.contains("site") || !h["site"].is_string() ||
        !net::valid_site_name(h["site"].get<std::string>()) || !h.contains("name") ||
        !h["name"].is_string())
      return r;
    r.sites.push_back(h["site"].get<std::string>());
  }
  r.routable = !r.hosts.empty();
  return r;
}

std::string registration_part(const std::vector<json>& hosts) {
  return json{{"hosts", hosts}}.dump();
}

net::http_response merge_submission(const std::vector<std::string>& hosts,
                                    const std::vector<part_outcome>& parts) {
  // Each part's entries in order: the node answers host by host in the order it was given.
  std::map<std::string, std::size_t> part_of_host;
  std::vector<json> entries(parts.size());
  std::vector<std::size_t> next(parts.size(), 0);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (const auto& h : parts[i].hosts) part_of_host.emplace(h, i);
    if (ok(parts[i].status)) {
      auto doc = parse_or_null(parts[i].body);
      entries[i] = doc.is_object() && doc.contains("requests") && doc["requests"].is_array()
                       ? doc["requests"]
                       : json::array();
    }
  }
  json requests = json::array();
  for (const auto& h : hosts) {
    auto it = part_of_host.find(h);
    if (it == part_of_host.end()) continue;
    auto i = it->second;
    const auto& p = parts[i];
    json e;
    if (ok(p.status) && next[i] < entries[i].size()) {
      e = entries[i][next[i]++];
    } else {
      e = {{"host", h},
           {"id", nullptr},
           {"status", p.status >= 400 && p.status < 500 && p.status != 429 ? "refused" : "failed"},
           {"error", error_of(p)}};
      if (ok(p.status)) e["error"] = {{"code", "node_error"}, {"message", "no entry for host"}};
    }
    e["site"] = p.site;
    requests.push_back(std::move(e));
  }
  return answer(merged_status(parts, 202), json{{"requests", requests}, {"sites", sites_of(parts)}},
                parts);
}

net::http_response merge_registration(const std::vector<part_outcome>& parts) {
  // Each node answers the number of hosts it stored: the answer is their sum.
  std::int64_t stored = 0;
  for (const auto& p : parts) {
    if (!ok(p.status)) continue;
    auto doc = parse_or_null(p.body);
    if (doc.is_object() && doc.contains("hosts") && doc["hosts"].is_number_integer())
      stored += doc["hosts"].get<std::int64_t>();
  }
  return answer(merged_status(parts, 201), json{{"hosts", stored}, {"sites", sites_of(parts)}},
                parts);
}

net::http_response merge_queues(const std::vector<part_outcome>& parts) {
  json rows = json::array();
  for (const auto& p : parts) {
    if (!ok(p.status)) continue;
    auto doc = parse_or_null(p.body);
    if (doc.is_object() && doc.contains("clusters") && doc["clusters"].is_array())
      for (auto& row : doc["clusters"])
        if (row.is_object()) {
          row["site"] = p.site;
          rows.push_back(std::move(row));
        }
  }
  return answer(merged_status(parts, 200), json{{"clusters", rows}, {"sites", sites_of(parts)}},
                parts);
}

}  // namespace ab::router
