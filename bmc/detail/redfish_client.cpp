#include "bmc/detail/redfish_client.hpp"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "bmc/endpoint_policy.hpp"
#include "core/error.hpp"

namespace ab::bmc::detail {

namespace {

using std::chrono::milliseconds;

/// The wait before retry `attempt` (0-based): `Retry-After` seconds when given, else backoff.
milliseconds retry_wait(const http_answer& a, milliseconds backoff, int attempt) {
  auto it = a.headers.find("retry-after");
  if (it != a.headers.end()) {
    try {
      return std::chrono::seconds(std::stoi(it->second));
    } catch (const std::exception&) {
      // An HTTP date or garbage: fall back to our own backoff.
    }
  }
  return backoff * (1 << attempt);
}

/// True if repeating the call cannot do harm: the request was not sent, or it is idempotent.
bool retryable(const std::string& method, const caf::expected<http_answer>& a) {
  if (a && a->status == 0) return true;
  bool idempotent = method != "POST";
  if (!a) return idempotent;
  if (a->status == 503) return true;
  return idempotent && a->status >= 500;
}

caf::error status_error(const std::string& where, long status, const std::string& detail) {
  // 429 (too many requests) and 5xx say the BMC is busy or failing now, not that the call
  // was wrong: worth retrying later.
  // 412 and 428: the ETag sent is stale, or one is needed (read the resource again).
  auto code = status == 404                    ? errc::not_found
              : status >= 500 || status == 429 ? errc::unavailable
              : status == 412 || status == 428 ? errc::conflict
                                               : errc::invalid_argument;
  auto what = where + " answered " + std::to_string(status);
  return make_error(code, detail.empty() ? what : what + ": " + detail);
}

}  // namespace

std::string link(const nlohmann::json& resource, const std::string& key) {
  if (!resource.is_object()) return {};
  auto it = resource.find(key);
  if (it == resource.end() || !it->is_object()) return {};
  return text(*it, "@odata.id");
}

std::vector<std::string> members(const nlohmann::json& collection) {
  std::vector<std::string> ids;
  if (!collection.is_object() || !collection.contains("Members")) return ids;
  const auto& list = collection["Members"];
  if (!list.is_array()) return ids;
  for (const auto& m : list) {
    auto id = text(m, "@odata.id");
    if (!id.empty()) ids.push_back(id);
  }
  return ids;
}

std::string text(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string redfish_message(const nlohmann::json& body) {
  // Only the shape of a Redfish error (`error` with a string `code` and `message`) counts: any
  // other body is another service's, and is never quoted.
  if (!body.is_object() || !body.contains("error")) return {};
  const auto& e = body["error"];
  if (!e.is_object() || !e.contains("code") || !e["code"].is_string()) return {};
  // A BMC's sentence, not a channel: printable characters, a few hundred of them.
  auto clean = [](const std::string& m) {
    std::string out;
    for (unsigned char ch : m)
      if (ch >= 0x20 && ch != 0x7f && out.size() < 300) out += static_cast<char>(ch);
    return out;
  };
  std::string out = clean(text(e, "message"));
  if (e.contains("@Message.ExtendedInfo") && e["@Message.ExtendedInfo"].is_array()) {
    for (const auto& info : e["@Message.ExtendedInfo"]) {
      auto m = clean(text(info, "Message"));
      if (!m.empty() && out.size() < 1000) out += (out.empty() ? "" : "; ") + m;
    }
  }
  return out;
}

void log_out(redfish_session& s, std::chrono::milliseconds limit) {
  if (s.logout.url.empty() || s.token.empty()) return;
  auto call = s.logout;
  call.token = s.token;
  call.timeout = std::min(call.timeout, limit);
  if (auto a = s.connection.perform(call); !a || a->status >= 300)
    spdlog::debug("bmc: logout from {} failed", call.url);
  s.token.clear();
  s.logout.url.clear();
}

redfish_client::redfish_client(target t, client_policy policy, std::string origin,
                               std::string prefix)
    : target_(std::move(t)),
      policy_(policy),
      origin_(std::move(origin)),
      prefix_(std::move(prefix)) {}

http_call redfish_client::make_call(std::string method, std::string url, std::string body) const {
  http_call call;
  call.method = std::move(method);
  call.url = std::move(url);
  call.body = std::move(body);
  call.insecure = target_.insecure;
  call.ca_file = target_.ca_file;
  call.timeout = target_.timeout;
  call.policy = target_.policy;
  call.host = host_;
  return call;
}

caf::expected<std::unique_ptr<redfish_client>> redfish_client::open(
    const target& t, client_policy policy, std::unique_ptr<redfish_session> session) {
  auto scheme_end = t.endpoint.find("://");
  auto scheme = t.endpoint.substr(0, scheme_end);
  if (scheme_end == std::string::npos || (scheme != "https" && scheme != "http") ||
      t.endpoint.size() == scheme_end + 3)
    return make_error(errc::invalid_argument,
                      "Redfish endpoint '" + t.endpoint + "' is not https://HOST[:PORT][/PREFIX]");
  auto path_start = t.endpoint.find('/', scheme_end + 3);
  auto origin = t.endpoint.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? "" : t.endpoint.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::unique_ptr<redfish_client> c(new redfish_client(t, policy, origin, prefix));
  if (t.policy) {
    auto parts = endpoint_policy::parse(t.endpoint);
    if (!parts) return std::move(parts.error());
    c->host_ = parts->host;
  }
  if (session) {
    // The root proved a Redfish service when the session began.
    c->session_ = std::move(session);
    c->redfish_ = true;
    // A session whose renewal was refused last time has no login left: log in now.
    if (c->session_->token.empty() && !c->session_->basic)
      if (auto err = c->login()) return err;
    return c;
  }
  c->session_ = std::make_unique<redfish_session>();
  if (auto err = c->start()) return err;
  return c;
}

caf::error redfish_client::start() {
  auto root = get(prefix_ + "/redfish/v1/");
  if (!root && is(root.error(), errc::unauthenticated)) {
    // The root is public by the standard, but some BMCs guard even that.
    session_->basic = true;
    root = get(prefix_ + "/redfish/v1/");
  }
  if (!root) return std::move(root.error());
  // Credentials and quoted error text are for a Redfish service only.
  if (text(*root, "RedfishVersion").empty())
    return make_error(errc::invalid_argument,
                      "BMC " + target_.endpoint +
                          " is not a Redfish service (its service root names no "
                          "RedfishVersion)");
  session_->root = std::move(*root);
  redfish_ = true;
  return login();
}

redfish_client::~redfish_client() {
  if (session_) log_out(*session_, target_.timeout);
}

std::unique_ptr<redfish_session> redfish_client::release() {
  return std::move(session_);
}

const nlohmann::json* redfish_client::recall(const std::string& key) {
  auto it = session_->found.find(key);
  if (it == session_->found.end()) return nullptr;
  recalled_ = true;
  return &it->second;
}

void redfish_client::remember(const std::string& key, nlohmann::json value) {
  session_->found[key] = std::move(value);
}

void redfish_client::forget_found() {
  session_->found.clear();
  recalled_ = false;
}

void redfish_client::forget(const std::string& key) {
  session_->found.erase(key);
}

void redfish_client::read_session_timeout() {
  auto& s = *session_;
  s.timeout = std::chrono::milliseconds{0};
  auto path = link(s.root, "SessionService");
  if (path.empty()) return;
  // Best effort: without it the session is kept for the driver's own idle limit. A 401 here
  // does not log in again from within a login.
  bool relogged = relogged_;
  relogged_ = true;
  auto service = get(path);
  relogged_ = relogged;
  if (!service || !service->is_object()) return;
  auto it = service->find("SessionTimeout");
  if (it == service->end() || !it->is_number()) return;
  // Seconds; the standard allows 30 to 86400, a hostile BMC anything: kept within 1 s .. 1 day.
  auto seconds = std::clamp(it->get<double>(), 1.0, 86400.0);
  s.timeout = std::chrono::milliseconds{static_cast<std::int64_t>(seconds * 1000)};
}

caf::error redfish_client::login() {
  auto& s = *session_;
  const auto& root = s.root;
  auto sessions = root.contains("Links") ? link(root["Links"], "Sessions") : "";
  if (sessions.empty()) {
    s.basic = true;
    return {};
  }
  auto url = url_of(sessions);
  if (!url) return std::move(url.error());
  // A refused token is never sent again, not even with the login.
  s.token.clear();
  s.logout.url.clear();
  nlohmann::json creds{{"UserName", target_.user}, {"Password", target_.password}};
  auto a = exchange(make_call("POST", *url, creds.dump()));
  if (!a) return std::move(a.error());
  if (a->status == 404 || a->status == 405) {  // no sessions: HTTP Basic
    s.basic = true;
    return {};
  }
  if (a->status == 401 || a->status == 403)
    return make_error(
        errc::unauthenticated,
        "BMC " + target_.endpoint + " refused the credentials (" + std::to_string(a->status) + ")");
  auto token = a->headers.find("x-auth-token");
  if (a->status >= 300 || token == a->headers.end())
    return status_error("session login at " + target_.endpoint, a->status, "no X-Auth-Token");
  ++s.logins;
  s.token = token->second;
  s.basic = false;  // the token alone from now on
  auto location = a->headers.find("location");
  if (location != a->headers.end()) {
    auto path = location->second;
    // A Location may be an absolute URL of the same origin.
    if (path.rfind(origin_, 0) == 0) path = path.substr(origin_.size());
    if (auto logout = url_of(path)) s.logout = make_call("DELETE", *logout, "");
  }
  if (policy_.read_session_timeout) read_session_timeout();
  return {};
}

caf::expected<std::string> redfish_client::url_of(const std::string& path) const {
  auto p = path.substr(0, path.find('#'));
  if (p.rfind(origin_ + "/", 0) == 0) return p;
  if (p.empty() || p[0] != '/')
    return make_error(errc::unavailable,
                      "BMC " + target_.endpoint + " linked outside its own origin");
  return origin_ + p;
}

caf::expected<http_answer> redfish_client::exchange(http_call call) {
  auto a = attempts(call);
  // A session the BMC no longer knows (expired, or deleted by someone else) is renewed once
  // per conversation, and the request sent again with the new token.
  if (a && a->status == 401 && !call.token.empty() && !relogged_) {
    relogged_ = true;
    spdlog::info("bmc: {} refused its session; logging in again", target_.endpoint);
    if (auto err = login()) return err;
    a = attempts(call);
  }
  return a;
}

caf::expected<http_answer> redfish_client::attempts(http_call& call) {
  auto deadline = policy_.clock->monotonic() + target_.timeout;
  call.user.clear();
  call.password.clear();
  if (session_->basic) {
    call.user = target_.user;
    call.password = target_.password;
  }
  call.token = session_->token;
  for (int attempt = 0;; ++attempt) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - policy_.clock->monotonic());
    call.timeout = std::max(milliseconds(1), left);
    auto a = session_->connection.perform(call);
    bool again = attempt < policy_.retries && retryable(call.method, a);
    auto wait = a ? retry_wait(*a, policy_.backoff, attempt) : policy_.backoff * (1 << attempt);
    if (!again || policy_.clock->monotonic() + wait >= deadline) {
      if (a && a->status == 0)
        return make_error(errc::unavailable,
                          "BMC " + target_.endpoint + " cannot be reached: " + a->failure);
      return a;
    }
    spdlog::debug("bmc: retrying {} {} in {} ms", call.method, call.url, wait.count());
    std::this_thread::sleep_for(wait);
  }
}

caf::expected<json_answer> redfish_client::checked(const std::string& method,
                                                   const std::string& path,
                                                   http_answer answer) const {
  auto where = "BMC " + target_.endpoint + " (" + method + " " + path + ")";
  json_answer out;
  out.status = answer.status;
  if (auto it = answer.headers.find("location"); it != answer.headers.end())
    out.location = it->second;
  if (!answer.body.empty()) {
    out.body = nlohmann::json::parse(answer.body, nullptr, false);
    if (out.body.is_discarded()) {
      if (answer.status < 300)
        return make_error(errc::unavailable, where + " answered a body that is not JSON");
      out.body = nullptr;
    }
  }
  if (answer.status == 401)
    return make_error(errc::unauthenticated, where + " refused the credentials (401)");
  if (answer.status < 200 || answer.status >= 300) {
    // What the peer said is quoted only when it is a Redfish service's own error: the service
    // root proved Redfish, and the answer is a JSON Redfish error.
    auto type = answer.headers.find("content-type");
    bool json_answer =
        type != answer.headers.end() && type->second.find("json") != std::string::npos;
    return status_error(where, answer.status,
                        redfish_ && json_answer ? redfish_message(out.body) : std::string{});
  }
  return out;
}

caf::expected<nlohmann::json> redfish_client::get(const std::string& path) {
  auto a = poll(path);
  if (!a) return std::move(a.error());
  return std::move(a->body);
}

caf::expected<json_answer> redfish_client::poll(const std::string& path) {
  auto url = url_of(path);
  if (!url) return std::move(url.error());
  auto call = make_call("GET", *url, "");
  auto a = exchange(call);
  if (!a) return std::move(a.error());
  return checked("GET", path, std::move(*a));
}

caf::expected<json_answer> redfish_client::send(const std::string& method, const std::string& path,
                                                const nlohmann::json& body,
                                                const std::string& etag) {
  auto url = url_of(path);
  if (!url) return std::move(url.error());
  auto call = make_call(method, *url, body.is_null() ? "" : body.dump());
  call.if_match = etag;
  auto a = exchange(call);
  if (!a) return std::move(a.error());
  return checked(method, path, std::move(*a));
}

}  // namespace ab::bmc::detail
