// The safety commands of `abctl`: wave plans (waves create, list, show, stop) and the table of
// a dry run (submit --dry-run).

#include <string>
#include <vector>

#include "core/error.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::int64_t number_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string joined(const json& list, const char* sep) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& x : list)
    out += (out.empty() ? "" : sep) + (x.is_string() ? x.get<std::string>() : x.dump());
  return out;
}

/// A wave plan's head line and, with its hosts, the per-wave tallies and hosts.
void print_wave(const context& ctx, const json& w) {
  if (ctx.json()) {
    ctx.io.out << json_text(w);
    return;
  }
  std::string head = "wave plan " + text_of(w, "id") + ": " + text_of(w, "action") + ", " +
                     text_of(w, "state") + ", wave " + text_of(w, "current_wave") + " of " +
                     text_of(w, "waves_total") + " (max " + text_of(w, "max_unavailable") +
                     " per " + text_of(w, "group_by") + ", pause " + text_of(w, "pause_s") +
                     " s, stop above " + text_of(w, "failure_threshold_pct") + "% failed)";
  if (w.value("dry_run", false)) head = "dry run: " + head + "; nothing was stored";
  ctx.io.out << printable(head) << "\n";
  if (auto reason = text_of(w, "reason"); !reason.empty())
    ctx.io.out << printable("  " + reason) << "\n";
  if (w.contains("waves")) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : w["waves"])
      rows.push_back({text_of(k, "wave"), text_of(k, "hosts"), text_of(k, "pending"),
                      text_of(k, "running"), text_of(k, "succeeded"), text_of(k, "failed")});
    ctx.io.out << render_table({"WAVE", "HOSTS", "PENDING", "RUNNING", "SUCCEEDED", "FAILED"},
                               rows);
  }
  if (w.contains("hosts")) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : w["hosts"])
      rows.push_back({text_of(h, "host"), text_of(h, "wave"), text_of(h, "group"),
                      text_of(h, "state"), text_of(h, "request"), text_of(h, "error")});
    ctx.io.out << render_table({"HOST", "WAVE", "GROUP", "STATE", "REQUEST", "ERROR"}, rows);
  }
}

int create(const context& ctx) {
  const auto& cl = ctx.cl;
  auto hosts = cl.hosts;
  if (!cl.hosts_file.empty()) {
    auto text = read_input(ctx, cl.hosts_file);
    if (!text) {
      ctx.note("waves create: cannot read the hosts file " + cl.hosts_file);
      return exit_usage;
    }
    auto more = host_lines(*text);
    hosts.insert(hosts.end(), more.begin(), more.end());
  }
  if (hosts.empty()) {
    ctx.note("waves create: no host given (the hosts file is empty)");
    return exit_usage;
  }
  json body{{"action", cl.action}, {"hosts", hosts}};
  if (!cl.priority.empty()) body["priority"] = cl.priority;
  if (!cl.group_by.empty()) body["group_by"] = cl.group_by;
  if (cl.max_unavailable) body["max_unavailable"] = *cl.max_unavailable;
  if (cl.wave_size) body["wave_size"] = *cl.wave_size;
  if (cl.pause_s) body["pause_s"] = *cl.pause_s;
  if (cl.failure_threshold) body["failure_threshold_pct"] = *cl.failure_threshold;
  if (cl.confirm_hosts) body["confirm_hosts"] = *cl.confirm_hosts;
  if (cl.dry_run) body["dry_run"] = true;
  // Storing a plan twice would make two plans: only a dry run goes to another router after it
  // may have reached one.
  api_call c{"POST", with_site(ctx, "/v1/waves"),
             body.dump(-1, ' ', false, json::error_handler_t::replace), "", cl.dry_run};
  auto r = exchange(ctx, c, "waves create", {cl.dry_run ? 200L : 201L});
  if (r.code != exit_ok) return r.code;
  print_wave(ctx, r.body);
  return exit_ok;
}

}  // namespace

void print_preflight(const context& ctx, const json& a) {
  if (ctx.json()) {
    ctx.io.out << json_text(a);
    ctx.io.out.flush();
    return;
  }
  ctx.io.out << printable(
                    "dry run of " + text_of(a, "action") + ": " +
                    (a.value("accepted", false) ? "would be accepted" : "would NOT be accepted") +
                    "; nothing was changed")
             << "\n";
  if (a.contains("checks") && a["checks"].is_array())
    for (const auto& c : a["checks"])
      ctx.io.out << printable("  " + std::string{c.value("ok", false) ? "ok     " : "FAILED "} +
                              text_of(c, "check") + ": " + text_of(c, "reason"))
                 << "\n";
  std::vector<std::vector<std::string>> rows;
  if (a.contains("hosts") && a["hosts"].is_array())
    for (const auto& h : a["hosts"]) {
      std::string failed;
      if (h.contains("checks"))
        for (const auto& c : h["checks"])
          if (!c.value("ok", true))
            failed +=
                (failed.empty() ? "" : "; ") + text_of(c, "check") + ": " + text_of(c, "reason");
      rows.push_back({text_of(h, "host"), h.value("accepted", false) ? "yes" : "no",
                      joined(h.value("chain", json::array()), ">"),
                      utc_time(number_of(h, "estimated_start_ms")),
                      utc_time(number_of(h, "estimated_end_ms")), failed});
    }
  ctx.io.out << render_table({"HOST", "ACCEPTED", "CHAIN", "START", "END", "FAILED CHECKS"}, rows);
  if (auto basis = text_of(a, "estimate_basis"); !basis.empty())
    ctx.io.out << printable("(estimates: " + basis + ")") << "\n";
  ctx.io.out.flush();
}

int run_waves(const context& ctx) {
  const auto& c = ctx.cl.command;
  if (c == "waves create") return create(ctx);
  if (c == "waves list") {
    std::string path = "/v1/waves";
    if (!ctx.cl.state.empty()) path += "?state=" + url_escape(ctx.cl.state);
    auto r = exchange(ctx, get(with_site(ctx, path)), "waves list");
    if (r.code != exit_ok) return r.code;
    if (ctx.json()) {
      ctx.io.out << json_text(r.body);
      return exit_ok;
    }
    std::vector<std::vector<std::string>> rows;
    if (r.body.contains("waves") && r.body["waves"].is_array())
      for (const auto& w : r.body["waves"])
        rows.push_back({text_of(w, "id"), text_of(w, "action"), text_of(w, "state"),
                        text_of(w, "current_wave") + "/" + text_of(w, "waves_total"),
                        text_of(w, "created_by"), utc_time(number_of(w, "created_at_ms")),
                        text_of(w, "reason")});
    ctx.io.out << render_table({"ID", "ACTION", "STATE", "WAVE", "BY", "CREATED", "REASON"}, rows);
    return exit_ok;
  }
  auto id = std::to_string(ctx.cl.ids.front());
  auto r = c == "waves show"
               ? exchange(ctx, get(with_site(ctx, "/v1/waves/" + id)), "wave plan " + id)
               : exchange(ctx, {"POST", with_site(ctx, "/v1/waves/" + id + "/stop"), "", "", true},
                          "waves stop " + id);
  if (r.code != exit_ok) return r.code;
  print_wave(ctx, r.body);
  return exit_ok;
}

}  // namespace ab::abctl::detail
