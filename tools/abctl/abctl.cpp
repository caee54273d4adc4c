#include "tools/abctl/abctl.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl {

namespace detail {

void context::note(const std::string& what) const {
  io.err << "abctl: " << printable(what) << "\n";
  io.err.flush();
}

std::string with_site(const context& ctx, std::string path) {
  if (ctx.cl.site.empty()) return path;
  return path + (path.find('?') == std::string::npos ? "?" : "&") +
         "site=" + url_escape(ctx.cl.site);
}

int code_for_status(long status) {
  if (status == 404) return exit_not_found;
  if (status == 401 || status == 403) return exit_auth;
  if (status == 502 || status == 503 || status == 504 || status == 429) return exit_unreachable;
  return exit_failed;
}

int worse(int a, int b) {
  return std::max(a, b);
}

exchange_result exchange(const context& ctx, const api_call& c, const std::string& what,
                         const std::vector<long>& ok) {
  return interpret(ctx, ctx.client.call(c), what, ok);
}

exchange_result interpret(const context& ctx, const call_result& res, const std::string& what,
                          const std::vector<long>& ok) {
  exchange_result r;
  if (!res) {
    ctx.note(what + ": " + res.failure.message);
    r.code = exit_unreachable;
    return r;
  }
  const auto& a = *res.answer;
  r.status = a.status;
  if (std::find(ok.begin(), ok.end(), a.status) == ok.end()) {
    auto e = parse_error(a.body);
    std::string msg = what + ": " + std::to_string(a.status);
    if (e)
      msg += " " + e->code + ": " + e->message;
    else if (a.status >= 200 && a.status < 300)
      msg += " (an answer this command does not expect)";
    ctx.note(msg);
    r.code = e || a.status >= 300 ? code_for_status(a.status) : exit_bad_answer;
    // A host the inventory does not hold (or the caller may not see) is not found, as a 404.
    if (e && e->code == "unknown_host") r.code = exit_not_found;
    return r;
  }
  if (a.body.empty()) return r;
  auto j = parse_body(a.body);
  if (!j) {
    ctx.note(what + ": " + sentence(j.error()) + " (from " + a.router + ")");
    r.code = exit_bad_answer;
    return r;
  }
  r.body = std::move(*j);
  return r;
}

std::string utc_time(std::int64_t ms) {
  if (ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (!::gmtime_r(&t, &tm)) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> host_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    auto e = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

std::optional<std::string> read_input(const context& ctx, const std::string& path) {
  constexpr std::size_t limit = std::size_t{64} << 20;
  std::string text;
  auto slurp = [&](std::istream& in) {
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      text.append(buf, static_cast<std::size_t>(in.gcount()));
      if (text.size() > limit) return false;
    }
    return true;
  };
  if (path == "-") {
    if (!slurp(ctx.io.in)) return std::nullopt;
    return text;
  }
  std::ifstream in{path, std::ios::binary};
  if (!in || !slurp(in)) return std::nullopt;
  return text;
}

}  // namespace detail

int run(const std::vector<std::string>& args, const environment& env, streams io) {
  auto cl = parse_command_line(args);
  if (!cl) {
    io.err << "abctl: " << sentence(cl.error()) << "\n";
    return exit_usage;
  }
  if (cl->help) {
    io.out << usage();
    return exit_ok;
  }
  auto s = resolve_settings(*cl, env);
  if (!s) {
    io.err << "abctl: " << printable(sentence(s.error())) << "\n";
    return exit_usage;
  }
  api_client client{*s, [&io](const std::string& line) {
                      io.err << "abctl: " << printable(line) << "\n";
                      io.err.flush();
                    }};
  detail::context ctx{*cl, *s, client, io};
  const auto& c = cl->command;
  if (c == "submit") return detail::run_submit(ctx);
  if (c == "status") return detail::run_status(ctx);
  if (c == "list") return detail::run_list(ctx);
  if (c == "cancel") return detail::run_cancel(ctx);
  if (c == "watch") return detail::run_watch(ctx);
  if (c.rfind("hosts ", 0) == 0) return detail::run_hosts(ctx);
  if (c.rfind("hold ", 0) == 0 || c.rfind("pause ", 0) == 0) return detail::run_safety(ctx);
  if (c.rfind("waves ", 0) == 0) return detail::run_waves(ctx);
  return detail::run_cluster(ctx);
}

}  // namespace ab::abctl
