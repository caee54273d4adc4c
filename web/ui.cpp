#include "web/ui.hpp"

#include <algorithm>
#include <string_view>

#include "web/assets.hpp"

namespace ab::web {

const asset* find_asset(std::string_view name) {
  auto all = assets();
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const asset& a, std::string_view n) { return a.name < n; });
  return it != all.end() && it->name == name ? &*it : nullptr;
}

namespace {

/// The headers every answer under `/ui/` carries.
void harden(net::http_response& r) {
  r.headers.emplace_back("Content-Security-Policy", content_security_policy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-cache");
}

net::http_response error(int status, std::string_view code, std::string_view message) {
  net::http_response r;
  r.status = status;
  // Fixed texts only: nothing of the caller's path is echoed.
  r.body = std::string{R"({"error":{"code":")"} + std::string{code} + R"(","message":")" +
           std::string{message} + R"("}})";
  harden(r);
  return r;
}

/// Whether the `If-None-Match` value `header` names `etag` (or is `*`).
bool matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    auto part = header.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.starts_with("W/")) part.remove_prefix(2);
    if (part == etag || part == "*") return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<net::http_response> serve_ui(const net::http_request& req) {
  std::string_view target = req.target;
  auto path = target.substr(0, target.find('?'));
  std::string_view prefix = ui_prefix;
  if (path != "/ui" && !path.starts_with(prefix)) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = error(405, "method_not_allowed", "the operator's view is read with GET");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path == "/ui") {
    net::http_response r{301, "", "", {{"Location", "/ui/"}}, false};
    harden(r);
    return r;
  }
  auto name = path.substr(prefix.size());
  if (name.empty()) name = "index.html";
  const auto* a = find_asset(name);
  if (!a) return error(404, "not_found", "no such file of the operator's view");
  net::http_response r;
  r.headers.emplace_back("ETag", std::string{a->etag});
  if (auto it = req.headers.find("if-none-match");
      it != req.headers.end() && matches(it->second, a->etag)) {
    r.status = 304;
    r.content_type.clear();
  } else {
    r.status = 200;
    r.content_type = std::string{a->content_type};
    r.body = std::string{a->body};
  }
  harden(r);
  return r;
}

}  // namespace ab::web
