// `abctl watch`: the live progress of requests until every one has ended.

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;
using clock = std::chrono::steady_clock;

/// Rounds in a row without any answer after which `watch` gives up (exit 5).
constexpr int max_failed_rounds = 10;

/// The ids of a batch: what `submit --output json` printed (the accepted ones), or one id a line.
caf::expected<std::vector<std::int64_t>> batch_ids(const std::string& text) {
  std::vector<std::int64_t> ids;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    auto outcomes = parse_outcomes(j);
    if (!outcomes) return outcomes.error();
    for (const auto& o : *outcomes)
      if (o.status == "accepted") ids.push_back(o.id);
    return ids;
  }
  for (const auto& line : host_lines(text)) {
    if (line.empty() || line.size() > 18 ||
        line.find_first_not_of("0123456789") != std::string::npos)
      return make_error(errc::invalid_argument, "'" + line + "' is not a request id");
    ids.push_back(std::stoll(line));
  }
  return ids;
}

/// What a plain line says of a request; a new line is printed when it changes.
std::string describe(const request_info& r) {
  std::string s = std::to_string(r.id) + " " + r.host + " " + r.action + " " + r.state;
  if (!r.jobs.empty() && !terminal(r.state)) {
    std::size_t done = 0;
    const job_info* current = nullptr;
    for (const auto& j : r.jobs) {
      if (j.state == "done")
        ++done;
      else if (!current)
        current = &j;
    }
    if (current)
      s += " job " + std::to_string(done + 1) + "/" + std::to_string(r.jobs.size()) + " " +
           current->type + " " + current->state;
  }
  if (!r.error.empty()) s += ": " + r.error;
  if (!r.waiting_for.empty()) s += " (" + r.waiting_for + ")";
  if (!terminal(r.state) && r.eta_at > 0) s += ", ETA " + utc_time(r.eta_at);
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The wall-clock time now, for the plain lines.
std::string now_text() {
  return utc_time(now_ms());
}

/// The latest estimate of the unfinished requests of a batch (0: none has one).
std::int64_t batch_eta(const std::map<std::int64_t, request_info>& last) {
  std::int64_t at = 0;
  for (const auto& [id, r] : last)
    if (!terminal(r.state)) at = std::max(at, r.eta_at);
  return at;
}

struct tally {
  std::size_t succeeded = 0, failed = 0, cancelled = 0, running = 0, queued = 0, missing = 0;
  std::size_t ended() const { return succeeded + failed + cancelled + missing; }
};

std::string summary(const tally& t, std::size_t total) {
  std::string s = std::to_string(t.ended()) + "/" + std::to_string(total) +
                  " ended: " + std::to_string(t.succeeded) + " succeeded, " +
                  std::to_string(t.failed) + " failed, " + std::to_string(t.cancelled) +
                  " cancelled";
  if (t.missing) s += ", " + std::to_string(t.missing) + " not found";
  if (t.running || t.queued)
    s += "; " + std::to_string(t.running) + " running, " + std::to_string(t.queued) + " queued";
  return s;
}

}  // namespace

int watch_requests(const context& ctx, const std::vector<std::int64_t>& given) {
  // Each request once, in the order given.
  std::vector<std::int64_t> ids;
  for (auto id : given)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  std::map<std::int64_t, request_info> last;
  std::map<std::int64_t, json> raw;
  std::map<std::int64_t, std::string> said;
  std::set<std::int64_t> missing;
  const bool bar = ctx.io.out_is_tty && !ctx.json();
  const bool lines = !ctx.io.out_is_tty && !ctx.json();
  auto deadline = ctx.cl.max_wait ? clock::now() + *ctx.cl.max_wait : clock::time_point::max();
  int failed_rounds = 0;
  int code = exit_ok;
  for (;;) {
    bool answered = false;
    for (auto id : ids) {
      if (missing.count(id) || (last.count(id) && terminal(last[id].state))) continue;
      auto res = ctx.client.call(get("/v1/requests/" + std::to_string(id)));
      if (!res) {
        ctx.note("watch: " + res.failure.message + "; trying again");
        break;
      }
      answered = true;
      const auto& a = *res.answer;
      if (a.status == 404) {
        ctx.note("request " + std::to_string(id) + " not found");
        missing.insert(id);
        continue;
      }
      if (a.status != 200) {
        auto e = parse_error(a.body);
        ctx.note("request " + std::to_string(id) + ": " + std::to_string(a.status) +
                 (e ? " " + e->code + ": " + e->message : std::string{}));
        if (a.status == 401 || a.status == 403) return exit_auth;
        continue;  // 429 and the like: ask again next round
      }
      auto j = parse_body(a.body);
      auto info = j ? parse_request(*j) : caf::expected<request_info>{j.error()};
      if (!info) {
        ctx.note("request " + std::to_string(id) + ": " + sentence(info.error()));
        return exit_bad_answer;
      }
      auto line = describe(*info);
      if (lines && said[id] != line) ctx.io.out << now_text() << " " << printable(line) << "\n";
      said[id] = line;
      last[id] = std::move(*info);
      raw[id] = std::move(*j);
    }
    failed_rounds = answered ? 0 : failed_rounds + 1;
    tally t;
    for (auto id : ids) {
      if (missing.count(id)) {
        ++t.missing;
        continue;
      }
      auto it = last.find(id);
      if (it == last.end()) continue;
      const auto& s = it->second.state;
      if (s == "succeeded") ++t.succeeded;
      if (s == "failed") ++t.failed;
      if (s == "cancelled") ++t.cancelled;
      if (s == "running") ++t.running;
      if (s == "queued") ++t.queued;
    }
    bool all_ended = t.ended() == ids.size();
    if (bar) {
      // One request: its jobs fill the bar; many: the requests that ended.
      std::size_t done = t.ended(), total = ids.size();
      std::string text = summary(t, ids.size());
      if (ids.size() == 1 && last.count(ids[0])) {
        const auto& r = last[ids[0]];
        total = r.jobs.size();
        done = 0;
        for (const auto& j : r.jobs) done += j.state == "done";
        text = describe(r);
        // The bar says how far off the end is; the plain lines above name its time.
        if (auto eta = eta_text(r, now_ms()); !eta.empty() && !terminal(r.state))
          text =
              std::to_string(r.id) + " " + r.host + " " + r.action + " " + r.state + " ETA " + eta;
      } else if (auto at = batch_eta(last); at > 0) {
        text += "; ETA " + utc_time(at);
      }
      // Our own sequence: back to the line's start and clear it; the text itself is sanitised.
      ctx.io.out << "\r\x1b[2K" << progress_bar(done, total) << " " << printable(text);
      ctx.io.out.flush();
    } else if (lines) {
      ctx.io.out.flush();
    }
    if (all_ended) {
      if (bar) ctx.io.out << "\n";
      if (t.failed || t.cancelled) code = exit_failed;
      if (t.missing) code = worse(code, exit_not_found);
      if (ctx.json()) {
        json reqs = json::array();
        for (auto id : ids)
          if (raw.count(id)) reqs.push_back(raw[id]);
        json nf = json::array();
        for (auto id : missing) nf.push_back(id);
        ctx.io.out << json_text(json{{"requests", reqs},
                                     {"succeeded", t.succeeded},
                                     {"failed", t.failed},
                                     {"cancelled", t.cancelled},
                                     {"not_found", nf}});
      } else {
        ctx.io.out << "watch: " << summary(t, ids.size()) << "\n";
      }
      return code;
    }
    if (failed_rounds >= max_failed_rounds) {
      if (bar) ctx.io.out << "\n";
      ctx.note("watch: no router answered " + std::to_string(failed_rounds) +
               " times in a row; giving up");
      return exit_unreachable;
    }
    if (clock::now() >= deadline) {
      if (bar) ctx.io.out << "\n";
      ctx.note("watch: --max-wait passed; " + summary(t, ids.size()));
      return exit_gave_up;
    }
    std::this_thread::sleep_for(
        std::min<clock::duration>(ctx.cl.interval, deadline - clock::now()));
  }
}

int run_watch(const context& ctx) {
  auto ids = ctx.cl.ids;
  if (!ctx.cl.batch_file.empty()) {
    auto text = read_input(ctx, ctx.cl.batch_file);
    if (!text) {
      ctx.note("watch: cannot read the batch file " + ctx.cl.batch_file);
      return exit_usage;
    }
    auto more = batch_ids(*text);
    if (!more) {
      ctx.note("watch: batch file " + ctx.cl.batch_file + ": " + sentence(more.error()));
      return exit_usage;
    }
    ids.insert(ids.end(), more->begin(), more->end());
    if (ids.empty()) {
      ctx.note("watch: the batch holds no accepted request");
      return exit_failed;
    }
  }
  return watch_requests(ctx, ids);
}

}  // namespace ab::abctl::detail
