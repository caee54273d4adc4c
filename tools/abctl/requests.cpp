// The request commands of `abctl`: submit, status, list, cancel.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;

/// The API's bound on the hosts of one submission.
constexpr std::size_t max_hosts = 10000;

/// A fresh idempotency key: `abctl-` and 128 random bits in hex.
std::string new_idempotency_key() {
  unsigned char bytes[16] = {0};
  bool filled = false;
  if (int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC); fd >= 0) {
    filled = ::read(fd, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes);
    ::close(fd);
  }
  if (!filled) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string out = "abctl-";
  char hex[3];
  for (auto b : bytes) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    out += hex;
  }
  return out;
}

/// `done/total` jobs and the current job (the first not done) of `r`.
std::pair<std::string, std::string> job_progress(const request_info& r) {
  if (r.jobs.empty()) return {"", ""};
  std::size_t done = 0;
  std::string current;
  for (const auto& j : r.jobs) {
    if (j.state == "done")
      ++done;
    else if (current.empty())
      current = j.type + " (" + j.state + ")";
  }
  return {std::to_string(done) + "/" + std::to_string(r.jobs.size()), current};
}

}  // namespace

int run_submit(const context& ctx) {
  const auto& cl = ctx.cl;
  auto hosts = cl.hosts;
  if (!cl.hosts_file.empty()) {
    auto text = read_input(ctx, cl.hosts_file);
    if (!text) {
      ctx.note("submit: cannot read the hosts file " + cl.hosts_file);
      return exit_usage;
    }
    auto more = host_lines(*text);
    hosts.insert(hosts.end(), more.begin(), more.end());
  }
  if (hosts.empty()) {
    ctx.note("submit: no host given (the hosts file is empty)");
    return exit_usage;
  }
  if (hosts.size() > max_hosts) {
    ctx.note("submit: " + std::to_string(hosts.size()) + " hosts; one submission takes at most " +
             std::to_string(max_hosts) + " (split the file)");
    return exit_usage;
  }
  json body{{"action", cl.action}};
  if (hosts.size() == 1)
    body["host"] = hosts.front();
  else
    body["hosts"] = hosts;
  if (!cl.priority.empty()) body["priority"] = cl.priority;
  if (!cl.params.empty()) body["params"] = cl.params;
  if (cl.confirm_hosts) body["confirm_hosts"] = *cl.confirm_hosts;
  if (cl.dry_run) {
    body["dry_run"] = true;
    auto r = exchange(ctx, {"POST", with_site(ctx, "/v1/requests"), body.dump(), "", true},
                      "submit --dry-run");
    if (r.code != exit_ok) return r.code;
    print_preflight(ctx, r.body);
    return r.body.value("accepted", false) ? exit_ok : exit_failed;
  }
  auto key = cl.idempotency_key;
  if (key.empty()) {
    key = new_idempotency_key();
    // Printed before the call: if it never gets an answer, the operator can repeat it safely.
    ctx.note("idempotency key " + key + " (repeat with --idempotency-key " + key +
             " to retry this submission safely)");
  }
  api_call c{"POST", with_site(ctx, "/v1/requests"),
             body.dump(-1, ' ', false, json::error_handler_t::replace), key, true};
  auto r = exchange(ctx, c, "submit", {202});
  if (r.code != exit_ok) {
    if (r.code == exit_unreachable)
      ctx.note(
          "the submission may or may not have been accepted: repeat it with "
          "--idempotency-key " +
          key + " to learn its outcome");
    return r.code;
  }
  auto outcomes = parse_outcomes(r.body);
  if (!outcomes) {
    ctx.note("submit: " + sentence(outcomes.error()));
    return exit_bad_answer;
  }
  int code = exit_ok;
  std::vector<std::int64_t> accepted;
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : *outcomes) {
    if (o.status == "accepted")
      accepted.push_back(o.id);
    else
      code = exit_failed;
    rows.push_back({o.host, o.id ? std::to_string(o.id) : "", o.status,
                    o.error_code.empty() ? "" : o.error_code + ": " + o.error_message});
  }
  if (ctx.json()) {
    json out{{"idempotency_key", key}, {"requests", r.body["requests"]}};
    ctx.io.out << json_text(out);
  } else {
    ctx.io.out << render_table({"HOST", "ID", "STATUS", "ERROR"}, rows);
  }
  ctx.io.out.flush();
  if (cl.watch && !accepted.empty()) code = worse(code, watch_requests(ctx, accepted));
  return code;
}

int run_status(const context& ctx) {
  int code = exit_ok;
  json all = json::array();
  std::vector<request_info> found;
  for (auto id : ctx.cl.ids) {
    auto r =
        exchange(ctx, get("/v1/requests/" + std::to_string(id)), "request " + std::to_string(id));
    if (r.code != exit_ok) {
      code = worse(code, r.code);
      continue;
    }
    auto info = parse_request(r.body);
    if (!info) {
      ctx.note("request " + std::to_string(id) + ": " + sentence(info.error()));
      code = worse(code, exit_bad_answer);
      continue;
    }
    all.push_back(r.body);
    found.push_back(std::move(*info));
  }
  if (ctx.json()) {
    ctx.io.out << json_text(json{{"requests", all}});
    return code;
  }
  if (found.size() == 1) {
    // One request: its fields, then its jobs.
    const auto& r = found.front();
    std::vector<std::vector<std::string>> fields{{"id", std::to_string(r.id)},
                                                 {"action", r.action},
                                                 {"host", r.host},
                                                 {"site", r.site},
                                                 {"priority", r.priority},
                                                 {"submitter", r.submitter},
                                                 {"state", r.state},
                                                 {"created", utc_time(r.created_at)}};
    if (r.started_at) fields.push_back({"started", utc_time(r.started_at)});
    if (r.finished_at) fields.push_back({"finished", utc_time(r.finished_at)});
    if (!r.error.empty()) fields.push_back({"error", r.error});
    if (!r.waiting_for.empty()) fields.push_back({"waiting for", r.waiting_for});
    if (r.steps_total > 0)
      fields.push_back(
          {"progress", std::to_string(r.steps_done) + "/" + std::to_string(r.steps_total)});
    if (r.eta_at > 0 && !terminal(r.state))
      fields.push_back(
          {"eta", utc_time(r.eta_at) + " " +
                      eta_text(r, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()) +
                      ", earliest " + utc_time(r.eta_earliest) + ", latest " +
                      utc_time(r.eta_latest) + " [" + r.eta_basis + "]"});
    std::string text = render_table({"FIELD", "VALUE"}, fields, 400);
    ctx.io.out << text.substr(text.find('\n') + 1) << "\n";
    std::vector<std::vector<std::string>> jobs;
    for (const auto& j : r.jobs)
      jobs.push_back({std::to_string(j.position), j.type, j.state,
                      std::to_string(j.attempts) + "/" + std::to_string(j.max_attempts), j.error});
    ctx.io.out << render_table({"#", "JOB", "STATE", "ATTEMPTS", "ERROR"}, jobs);
    return code;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : found) {
    auto [progress, current] = job_progress(r);
    rows.push_back({std::to_string(r.id), r.host, r.action, r.state, progress, current,
                    r.eta_at > 0 && !terminal(r.state) ? utc_time(r.eta_at) : "",
                    !r.error.empty() ? r.error : r.waiting_for});
  }
  if (!rows.empty())
    ctx.io.out << render_table({"ID", "HOST", "ACTION", "STATE", "JOBS", "CURRENT", "ETA", "NOTE"},
                               rows);
  return code;
}

int run_list(const context& ctx) {
  const auto& cl = ctx.cl;
  std::string query;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) query += (query.empty() ? "?" : "&") + std::string{k} + "=" + url_escape(v);
  };
  add("state", cl.state);
  add("host", cl.host);
  add("site", cl.site);
  add("action", cl.action_filter);
  if (cl.since) add("since", std::to_string(*cl.since));
  if (cl.limit) add("limit", std::to_string(*cl.limit));
  auto cursor = cl.cursor;
  json items = json::array();
  std::vector<request_info> found;
  std::string next;
  for (;;) {
    auto q = query;
    if (!cursor.empty()) q += (q.empty() ? "?" : "&") + std::string{"cursor="} + cursor;
    auto r = exchange(ctx, get("/v1/requests" + q), "list");
    if (r.code != exit_ok) return r.code;
    auto page = parse_request_page(r.body);
    if (!page) {
      ctx.note("list: " + sentence(page.error()));
      return exit_bad_answer;
    }
    for (auto& item : r.body["requests"]) items.push_back(std::move(item));
    for (auto& p : page->requests) found.push_back(std::move(p));
    next = page->next_cursor;
    // A cursor that does not move on would loop for ever.
    if (!cl.all || next.empty() || next == cursor) break;
    cursor = next;
  }
  if (ctx.json()) {
    json out{{"requests", items}};
    if (!next.empty() && !cl.all) out["next_cursor"] = next;
    ctx.io.out << json_text(out);
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(found.size());
  for (const auto& r : found)
    rows.push_back({std::to_string(r.id), r.host, r.site, r.action, r.state, r.priority,
                    r.submitter, utc_time(r.created_at)});
  ctx.io.out << render_table(
      {"ID", "HOST", "SITE", "ACTION", "STATE", "PRIORITY", "SUBMITTER", "CREATED"}, rows);
  if (!next.empty() && !cl.all) ctx.note("more requests: add --cursor " + next + " (or --all)");
  return exit_ok;
}

int run_cancel(const context& ctx) {
  int code = exit_ok;
  json done = json::array();
  std::vector<std::vector<std::string>> rows;
  for (auto id : ctx.cl.ids) {
    auto path = "/v1/requests/" + std::to_string(id) + "/cancel";
    auto r = exchange(ctx, {"POST", path, "", "", true}, "cancel " + std::to_string(id));
    if (r.code != exit_ok) {
      code = worse(code, r.code);
      continue;
    }
    std::string state;
    if (r.body.is_object() && r.body.contains("state") && r.body["state"].is_string())
      state = r.body["state"].get<std::string>();
    if (state.empty()) {
      ctx.note("cancel " + std::to_string(id) + ": the answer is not as the API says");
      code = worse(code, exit_bad_answer);
      continue;
    }
    done.push_back(json{{"id", id}, {"state", state}});
    rows.push_back({std::to_string(id), state});
  }
  if (ctx.json())
    ctx.io.out << json_text(json{{"requests", done}});
  else if (!rows.empty())
    ctx.io.out << render_table({"ID", "STATE"}, rows);
  return code;
}

}  // namespace ab::abctl::detail
