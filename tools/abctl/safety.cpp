// The safety commands of `abctl`: hold add, hold lift, hold list; pause add, pause resume,
// pause list (docs/safety.md).

#include <cctype>
#include <cstdio>
#include <functional>

#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::int64_t number_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// A path segment: the names abctl sends are checked by the node; `/` and `?` would change
/// the route, so they are escaped.
std::string segment(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::vector<std::string> hold_row(const json& h) {
  return {text_of(h, "host"), text_of(h, "site"), text_of(h, "owner"),
          utc_time(number_of(h, "created_at_ms")), text_of(h, "reason")};
}

std::vector<std::string> pause_row(const json& p) {
  return {text_of(p, "scope"), text_of(p, "target"), text_of(p, "owner"),
          utc_time(number_of(p, "created_at_ms")), text_of(p, "reason")};
}

const std::vector<std::string> hold_header{"HOST", "SITE", "OWNER", "SINCE", "REASON"};
const std::vector<std::string> pause_header{"SCOPE", "TARGET", "OWNER", "SINCE", "REASON"};

/// Runs one call per host (`hold add`, `hold lift`); the worst exit code wins.
int each_host(const context& ctx, const std::string& what, long ok,
              const std::function<api_call(const std::string&)>& call_for) {
  int code = exit_ok;
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& host : ctx.cl.hosts) {
    auto r = exchange(ctx, call_for(host), what + " " + host, {ok});
    code = worse(code, r.code);
    if (r.code != exit_ok) continue;
    out.push_back(r.body);
    rows.push_back(hold_row(r.body));
  }
  if (ctx.json())
    ctx.io.out << json_text(out);
  else if (!rows.empty())
    ctx.io.out << render_table(hold_header, rows);
  return code;
}

int run_hold_list(const context& ctx) {
  json all = json::array();
  std::string after = ctx.cl.after;
  for (;;) {
    std::string path = "/v1/holds?limit=" + std::to_string(ctx.cl.limit.value_or(100));
    if (!after.empty()) path += "&after=" + segment(after);
    auto r = exchange(ctx, get(with_site(ctx, path)), "hold list");
    if (r.code != exit_ok) return r.code;
    if (!r.body.is_object() || !r.body.contains("holds") || !r.body["holds"].is_array()) {
      ctx.note("hold list: the answer is not as the API says");
      return exit_bad_answer;
    }
    for (auto& h : r.body["holds"]) all.push_back(h);
    auto next = r.body.find("next");
    if (!ctx.cl.all || next == r.body.end() || !next->is_string()) break;
    after = next->get<std::string>();
  }
  if (ctx.json()) {
    ctx.io.out << json_text(json{{"holds", all}});
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : all) rows.push_back(hold_row(h));
  ctx.io.out << render_table(hold_header, rows);
  return exit_ok;
}

int run_pause_list(const context& ctx) {
  auto r = exchange(ctx, get(with_site(ctx, "/v1/pauses")), "pause list");
  if (r.code != exit_ok) return r.code;
  if (!r.body.is_object() || !r.body.contains("pauses") || !r.body["pauses"].is_array()) {
    ctx.note("pause list: the answer is not as the API says");
    return exit_bad_answer;
  }
  if (ctx.json()) {
    ctx.io.out << json_text(r.body);
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.body["pauses"]) rows.push_back(pause_row(p));
  ctx.io.out << render_table(pause_header, rows);
  return exit_ok;
}

int run_pause_change(const context& ctx, bool placing) {
  api_call c;
  if (placing) {
    // A second identical pause is refused (409), so the call is safe to repeat.
    c = {"POST", with_site(ctx, "/v1/pauses"),
         dump({{"scope", ctx.cl.scope}, {"target", ctx.cl.target}, {"reason", ctx.cl.reason}}), "",
         true};
  } else {
    c = {"DELETE",
         with_site(ctx, "/v1/pauses/" + segment(ctx.cl.scope) + "/" + segment(ctx.cl.target)),
         ctx.cl.note.empty() ? "" : dump({{"note", ctx.cl.note}}), "", true};
  }
  auto what = placing ? "pause add" : "pause resume";
  auto r = exchange(ctx, c, what, {placing ? 201L : 200L});
  if (r.code != exit_ok) return r.code;
  if (ctx.json())
    ctx.io.out << json_text(r.body);
  else
    ctx.io.out << render_table(pause_header, {pause_row(r.body)});
  return exit_ok;
}

}  // namespace

int run_safety(const context& ctx) {
  const auto& cmd = ctx.cl.command;
  if (cmd == "hold list") return run_hold_list(ctx);
  if (cmd == "pause list") return run_pause_list(ctx);
  if (cmd == "pause add") return run_pause_change(ctx, true);
  if (cmd == "pause resume") return run_pause_change(ctx, false);
  if (cmd == "hold add")
    return each_host(ctx, "hold add", 201, [&](const std::string& host) {
      return api_call{"POST", with_site(ctx, "/v1/holds"),
                      dump({{"host", host}, {"reason", ctx.cl.reason}}), "", true};
    });
  // hold lift
  return each_host(ctx, "hold lift", 200, [&](const std::string& host) {
    return api_call{"DELETE", with_site(ctx, "/v1/holds/" + segment(host)),
                    ctx.cl.note.empty() ? "" : dump({{"note", ctx.cl.note}}), "", true};
  });
}

}  // namespace ab::abctl::detail
