// The inventory commands of `abctl`: hosts register, hosts list, hosts show.

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;

/// The body of `POST /v1/hosts` from a hosts file: a JSON array of host objects,
/// `{"hosts": [...]}`, or one host object.
caf::expected<json> registration(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  auto refuse = [](const std::string& why) { return make_error(errc::invalid_argument, why); };
  if (j.is_discarded()) return refuse("not JSON");
  json hosts;
  if (j.is_array())
    hosts = std::move(j);
  else if (j.is_object() && j.contains("hosts"))
    hosts = std::move(j["hosts"]);
  else if (j.is_object())
    hosts = json::array({std::move(j)});
  if (!hosts.is_array()) return refuse("expected a JSON array of host objects");
  if (hosts.empty()) return refuse("it holds no host");
  for (std::size_t i = 0; i < hosts.size(); ++i)
    if (!hosts[i].is_object()) return refuse("item " + std::to_string(i) + " is not an object");
  return json{{"hosts", std::move(hosts)}};
}

int run_register(const context& ctx) {
  auto text = read_input(ctx, ctx.cl.file);
  if (!text) {
    ctx.note("hosts register: cannot read " + ctx.cl.file);
    return exit_usage;
  }
  auto body = registration(*text);
  if (!body) {
    ctx.note("hosts register: " + ctx.cl.file + ": " + sentence(body.error()));
    return exit_usage;
  }
  auto n = (*body)["hosts"].size();
  // Registering a known host again with the same fields changes nothing: safe to repeat.
  api_call c{"POST", with_site(ctx, "/v1/hosts"),
             body->dump(-1, ' ', false, json::error_handler_t::replace), "", true};
  auto r = exchange(ctx, c, "hosts register", {201});
  if (r.code != exit_ok) return r.code;
  if (!r.body.is_object() || !r.body.contains("hosts") || !r.body["hosts"].is_number_integer()) {
    ctx.note("hosts register: the answer is not as the API says");
    return exit_bad_answer;
  }
  if (ctx.json())
    ctx.io.out << json_text(r.body);
  else
    ctx.io.out << "registered " << r.body["hosts"].get<std::int64_t>() << " of " << n << " hosts\n";
  return exit_ok;
}

int run_list_hosts(const context& ctx) {
  const auto& cl = ctx.cl;
  std::string query;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) query += (query.empty() ? "?" : "&") + std::string{k} + "=" + url_escape(v);
  };
  add("site", cl.site);
  add("state", cl.state);
  if (cl.limit) add("limit", std::to_string(*cl.limit));
  auto after = cl.after;
  json items = json::array();
  std::vector<host_info> found;
  std::string next;
  for (;;) {
    auto q = query;
    if (!after.empty()) q += (q.empty() ? "?" : "&") + std::string{"after="} + url_escape(after);
    auto r = exchange(ctx, get("/v1/hosts" + q), "hosts list");
    if (r.code != exit_ok) return r.code;
    auto page = parse_host_page(r.body);
    if (!page) {
      ctx.note("hosts list: " + sentence(page.error()));
      return exit_bad_answer;
    }
    for (auto& h : r.body["hosts"]) items.push_back(std::move(h));
    for (auto& h : page->hosts) found.push_back(std::move(h));
    next = page->next_after;
    if (!cl.all || next.empty() || next == after) break;
    after = next;
  }
  if (ctx.json()) {
    json out{{"hosts", items}};
    if (!next.empty() && !cl.all) out["next_after"] = next;
    ctx.io.out << json_text(out);
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(found.size());
  for (const auto& h : found)
    rows.push_back({h.name, h.site, h.lifecycle_state, h.bmc_endpoint, h.credential_ref});
  ctx.io.out << render_table({"NAME", "SITE", "STATE", "BMC_ENDPOINT", "CREDENTIAL_REF"}, rows);
  if (!next.empty() && !cl.all) ctx.note("more hosts: add --after " + next + " (or --all)");
  return exit_ok;
}

int run_show_host(const context& ctx) {
  auto r = exchange(ctx, get(with_site(ctx, "/v1/hosts/" + url_escape(ctx.cl.name))),
                    "host " + ctx.cl.name);
  if (r.code != exit_ok) return r.code;
  auto h = parse_host(r.body);
  if (!h) {
    ctx.note("host " + ctx.cl.name + ": " + sentence(h.error()));
    return exit_bad_answer;
  }
  if (ctx.json()) {
    ctx.io.out << json_text(r.body);
    return exit_ok;
  }
  std::vector<std::vector<std::string>> fields{{"name", h->name},
                                               {"site", h->site},
                                               {"state", h->lifecycle_state},
                                               {"bmc endpoint", h->bmc_endpoint},
                                               {"credential ref", h->credential_ref},
                                               {"created", utc_time(h->created_at)},
                                               {"updated", utc_time(h->updated_at)}};
  auto text = render_table({"FIELD", "VALUE"}, fields, 400);
  ctx.io.out << text.substr(text.find('\n') + 1);
  // Facts as JSON: every non-ASCII and control character escaped.
  ctx.io.out << "facts  " << json_text(h->facts);
  return exit_ok;
}

}  // namespace

int run_hosts(const context& ctx) {
  if (ctx.cl.command == "hosts register") return run_register(ctx);
  if (ctx.cl.command == "hosts list") return run_list_hosts(ctx);
  return run_show_host(ctx);
}

}  // namespace ab::abctl::detail
