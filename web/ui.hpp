#pragma once

#include <optional>

#include "net/http/server.hpp"

namespace ab::web {

/// The path prefix the operator's view is served under.
inline constexpr const char* ui_prefix = "/ui/";

/// The `Content-Security-Policy` of every file of the view: its own origin only, no inline
/// script or style, no framing.
inline constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

/// The answer to `req` when its path is `/ui` or under `/ui/` (the operator's view: files that
/// hold no data, so no credentials are asked), nullopt for any other path. `/ui` redirects to
/// `/ui/`, which is `index.html`; GET and HEAD only; `If-None-Match` with the file's ETag is
/// answered 304. Every answer carries the strict `content_security_policy`, `nosniff`, no
/// referrer and `Cache-Control: no-cache` (revalidated by ETag: a new binary's files are seen
/// at once).
std::optional<net::http_response> serve_ui(const net::http_request& req);

}  // namespace ab::web
