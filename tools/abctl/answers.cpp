#include "tools/abctl/answers.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "core/error.hpp"
#include "tools/abctl/options.hpp"

namespace ab::abctl {

namespace {

using json = nlohmann::json;

/// Reads fields of one object, remembering the first problem.
class fields {
 public:
  fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) problem_ = where_ + " is not an object";
  }

  void text(const char* key, std::string& out, bool required,
            const std::vector<std::string>& allowed = {}) {
    const json* v = find(key, required);
    if (!v) return;
    if (!v->is_string()) return complain(key, "is not a string");
    out = v->get<std::string>();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), out) == allowed.end())
      complain(key, "has an unknown value");
  }

  void integer(const char* key, std::int64_t& out, bool required) {
    const json* v = find(key, required);
    if (!v) return;
    if (!v->is_number_integer()) return complain(key, "is not an integer");
    out = v->get<std::int64_t>();
  }

  const json* object(const char* key, bool required) {
    const json* v = find(key, required);
    if (v && !v->is_object()) {
      complain(key, "is not an object");
      return nullptr;
    }
    return v;
  }

  const json* array(const char* key, bool required) {
    const json* v = find(key, required);
    if (v && !v->is_array()) {
      complain(key, "is not an array");
      return nullptr;
    }
    return v;
  }

  void fail(const std::string& why) {
    if (problem_.empty()) problem_ = why;
  }

  caf::error error() const {
    if (problem_.empty()) return caf::error{};
    return make_error(errc::invalid_argument, "the answer is not as the API says: " + problem_);
  }
  const std::string& where() const { return where_; }

 private:
  const json* find(const char* key, bool required) {
    if (!problem_.empty()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) complain(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void complain(const char* key, const std::string& what) { fail(where_ + "." + key + " " + what); }

  const json& j_;
  std::string where_;
  std::string problem_;
};

const std::vector<std::string> request_states{"queued", "running", "succeeded", "failed",
                                              "cancelled"};
const std::vector<std::string> job_states{"waiting", "ready",  "running",  "parked",
                                          "done",    "failed", "cancelled"};

caf::error read_request(fields& f, const json& j, request_info& r) {
  f.integer("id", r.id, true);
  f.text("action", r.action, true);
  f.text("host", r.host, true);
  f.text("site", r.site, false);
  f.text("priority", r.priority, false);
  f.text("submitter", r.submitter, false);
  f.text("state", r.state, true, request_states);
  f.text("error", r.error, false);
  f.text("waiting_for", r.waiting_for, false);
  f.integer("created_at", r.created_at, false);
  f.integer("started_at", r.started_at, false);
  f.integer("finished_at", r.finished_at, false);
  if (const auto* eta = f.object("eta", false)) {
    fields ef{*eta, f.where() + ".eta"};
    ef.integer("at_ms", r.eta_at, true);
    ef.integer("earliest_ms", r.eta_earliest, true);
    ef.integer("latest_ms", r.eta_latest, true);
    ef.text("basis", r.eta_basis, false);
    if (auto err = ef.error()) return err;
  }
  if (const auto* progress = f.object("progress", false)) {
    fields pf{*progress, f.where() + ".progress"};
    pf.integer("done", r.steps_done, true);
    pf.integer("total", r.steps_total, true);
    if (auto err = pf.error()) return err;
  }
  if (const auto* jobs = f.array("jobs", false)) {
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      fields jf{(*jobs)[i], f.where() + ".jobs[" + std::to_string(i) + "]"};
      job_info job;
      jf.integer("position", job.position, true);
      jf.text("type", job.type, true);
      jf.text("state", job.state, true, job_states);
      jf.text("error", job.error, false);
      jf.integer("attempts", job.attempts, false);
      jf.integer("max_attempts", job.max_attempts, false);
      if (auto err = jf.error()) return err;
      r.jobs.push_back(std::move(job));
    }
  }
  if (!f.error() && r.id <= 0) f.fail(f.where() + ".id is not a request id");
  return f.error();
}

}  // namespace

std::string eta_text(const request_info& r, std::int64_t now_ms) {
  if (r.eta_at <= 0) return {};
  // Seconds as the largest two units: 45s, 3m20s, 2h05m.
  auto span = [](std::int64_t ms) {
    auto s = std::max<std::int64_t>(0, (ms + 500) / 1000);
    char buf[48];
    if (s < 60)
      std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
    else if (s < 3600)
      std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                    static_cast<long long>(s % 60));
    else
      std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                    static_cast<long long>(s / 60 % 60));
    return std::string{buf};
  };
  return "in " + span(r.eta_at - now_ms) + " (" + span(r.eta_earliest - now_ms) + "-" +
         span(r.eta_latest - now_ms) + ")";
}

bool terminal(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

caf::expected<request_info> parse_request(const json& j) {
  fields f{j, "request"};
  request_info r;
  if (auto err = read_request(f, j, r)) return err;
  return r;
}

caf::expected<request_page_info> parse_request_page(const json& j) {
  fields f{j, "page"};
  request_page_info page;
  const auto* items = f.array("requests", true);
  f.text("next_cursor", page.next_cursor, false);
  if (auto err = f.error()) return err;
  if (!page.next_cursor.empty() &&
      page.next_cursor.find_first_not_of("0123456789") != std::string::npos)
    return make_error(errc::invalid_argument,
                      "the answer is not as the API says: next_cursor is not a request id");
  for (std::size_t i = 0; i < items->size(); ++i) {
    fields rf{(*items)[i], "requests[" + std::to_string(i) + "]"};
    request_info r;
    if (auto err = read_request(rf, (*items)[i], r)) return err;
    page.requests.push_back(std::move(r));
  }
  return page;
}

caf::expected<std::vector<outcome_info>> parse_outcomes(const json& j) {
  fields f{j, "answer"};
  const auto* items = f.array("requests", true);
  if (auto err = f.error()) return err;
  std::vector<outcome_info> out;
  for (std::size_t i = 0; i < items->size(); ++i) {
    fields of{(*items)[i], "requests[" + std::to_string(i) + "]"};
    outcome_info o;
    of.text("host", o.host, true);
    of.integer("id", o.id, false);
    of.text("status", o.status, true, {"accepted", "refused"});
    if (const auto* e = of.object("error", false)) {
      fields ef{*e, of.where() + ".error"};
      ef.text("code", o.error_code, false);
      ef.text("message", o.error_message, false);
      if (auto err = ef.error()) return err;
    }
    if (!of.error() && o.status == "accepted" && o.id <= 0)
      of.fail(of.where() + " is accepted without a request id");
    if (auto err = of.error()) return err;
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

caf::error read_host(fields& f, host_info& h) {
  f.text("name", h.name, true);
  f.text("site", h.site, true);
  f.text("bmc_endpoint", h.bmc_endpoint, false);
  f.text("credential_ref", h.credential_ref, false);
  f.text("lifecycle_state", h.lifecycle_state, false);
  if (const auto* facts = f.object("facts", false)) h.facts = *facts;
  f.integer("created_at", h.created_at, false);
  f.integer("updated_at", h.updated_at, false);
  return f.error();
}

}  // namespace

caf::expected<host_info> parse_host(const json& j) {
  fields f{j, "host"};
  host_info h;
  if (auto err = read_host(f, h)) return err;
  return h;
}

caf::expected<host_page_info> parse_host_page(const json& j) {
  fields f{j, "page"};
  host_page_info page;
  const auto* items = f.array("hosts", true);
  f.text("next_after", page.next_after, false);
  if (auto err = f.error()) return err;
  for (std::size_t i = 0; i < items->size(); ++i) {
    fields hf{(*items)[i], "hosts[" + std::to_string(i) + "]"};
    host_info h;
    if (auto err = read_host(hf, h)) return err;
    page.hosts.push_back(std::move(h));
  }
  return page;
}

caf::expected<cluster_map_info> parse_cluster_map(const json& j) {
  fields f{j, "cluster map"};
  cluster_map_info m;
  f.integer("version", m.version, true);
  const auto* map = f.object("map", true);
  f.integer("changed_at_ms", m.changed_at_ms, false);
  f.text("changed_by", m.changed_by, false);
  if (auto err = f.error()) return err;
  m.map = *map;
  fields mf{m.map, "cluster map.map"};
  const auto* clusters = mf.object("clusters", false);
  const auto* nodes = mf.object("nodes", false);
  std::string def;
  mf.text("default_cluster", def, false);
  if (clusters)
    for (const auto& [name, c] : clusters->items()) {
      fields cf{c, "cluster map.map.clusters." + name};
      cf.array("actions", false);
      if (auto err = cf.error()) return err;
    }
  if (nodes)
    for (const auto& [name, c] : nodes->items())
      if (!c.is_string()) mf.fail("cluster map.map.nodes." + name + " is not a string");
  if (auto err = mf.error()) return err;
  return m;
}

caf::expected<std::vector<node_info>> parse_cluster_nodes(const json& j) {
  std::vector<node_info> out;
  std::string problem;
  // Depth-first, carrying the site and cluster named by the enclosing objects or keys.
  std::function<void(const json&, const std::string&, std::string, std::string, int)> walk =
      [&](const json& v, const std::string& key, std::string site, std::string cluster, int depth) {
        if (!problem.empty() || depth > 16) return;
        if (v.is_object()) {
          if (auto s = v.find("site"); s != v.end() && s->is_string()) site = *s;
          if (auto c = v.find("cluster"); c != v.end() && c->is_string()) cluster = *c;
          if (v.contains("node_id")) {
            fields f{v, "node " + key};
            node_info n;
            f.text("node_id", n.node_id, true);
            f.text("api_url", n.api_url, false);
            f.text("health", n.health, false);
            std::int64_t age = -1;
            f.integer("heartbeat_age_ms", age, false);
            if (age >= 0) n.heartbeat_age_ms = age;
            if (auto l = v.find("load"); l != v.end() && !l->is_null()) {
              if (!l->is_number())
                f.fail("node " + key + ".load is not a number");
              else
                n.load = l->get<double>();
            }
            if (auto h = v.find("healthy"); n.health.empty() && h != v.end() && h->is_boolean())
              n.health = h->get<bool>() ? "healthy" : "unhealthy";
            if (auto err = f.error()) {
              problem = sentence(err);
              return;
            }
            n.site = site;
            n.cluster = cluster;
            out.push_back(std::move(n));
            return;
          }
          for (const auto& [k, child] : v.items()) {
            // A map keyed by site or cluster name: `{"clusters": {"build": [...]}}`.
            auto s = site, c = cluster;
            if (key == "sites") s = k;
            if (key == "clusters") c = k;
            walk(child, k, s, c, depth + 1);
          }
        } else if (v.is_array()) {
          for (const auto& child : v) walk(child, "", site, cluster, depth + 1);
        }
      };
  if (!j.is_object())
    return make_error(errc::invalid_argument, "the answer is not as the API says: not an object");
  walk(j, "", "", "", 0);
  if (!problem.empty()) return make_error(errc::invalid_argument, problem);
  return out;
}

std::optional<error_info> parse_error(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return std::nullopt;
  error_info out;
  if (auto c = e->find("code"); c != e->end() && c->is_string()) out.code = *c;
  if (auto m = e->find("message"); m != e->end() && m->is_string()) out.message = *m;
  if (out.code.empty() && out.message.empty()) return std::nullopt;
  return out;
}

caf::expected<json> parse_body(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded())
    return make_error(errc::invalid_argument, "the answer is not as the API says: not JSON");
  return j;
}

}  // namespace ab::abctl
