#include "bmc/detail/curl_http.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <curl/curl.h>

#include "bmc/job_tag.hpp"
#include "core/error.hpp"

namespace ab::bmc::detail {

namespace {

using slist_ptr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// The largest body read from a BMC; a bigger one aborts the transfer (a broken BMC must not
/// exhaust the worker's memory).
constexpr size_t body_limit = 16 << 20;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > body_limit) return 0;
  body->append(data, size * count);
  return size * count;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  // A status line starts a new header block (e.g. after `100 Continue`).
  if (line.rfind("HTTP/", 0) == 0) headers->clear();
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    auto name = trim(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    (*headers)[name] = trim(line.substr(colon + 1));
  }
  return size * count;
}

slist_ptr make_headers(const http_call& c) {
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Accept: application/json");
  list = curl_slist_append(list, "OData-Version: 4.0");
  // No `Expect: 100-continue` round trip for small JSON bodies.
  list = curl_slist_append(list, "Expect:");
  if (!c.body.empty()) list = curl_slist_append(list, "Content-Type: application/json");
  if (!c.if_match.empty()) list = curl_slist_append(list, ("If-Match: " + c.if_match).c_str());
  if (!c.token.empty()) list = curl_slist_append(list, ("X-Auth-Token: " + c.token).c_str());
  if (const auto& tag = current_job_tag(); !tag.empty())
    list = curl_slist_append(list, ("X-AB-Job: " + tag).c_str());
  return {list, &curl_slist_free_all};
}

void set_tls(CURL* h, const http_call& c) {
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c.insecure ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c.insecure ? 0L : 2L);
  if (!c.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c.ca_file.c_str());
}

void set_method(CURL* h, const http_call& c) {
  if (c.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(c.body.size()));
  }
}

void set_auth(CURL* h, const http_call& c) {
  if (!c.token.empty() || c.user.empty()) return;
  curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(h, CURLOPT_USERNAME, c.user.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, c.password.c_str());
}

/// What the socket callback needs: the policy, the endpoint host, and why it refused.
struct socket_check {
  const http_call* call;
  std::string refusal;
};

curl_socket_t open_checked(void* user, curlsocktype, curl_sockaddr* a) {
  auto* check = static_cast<socket_check*>(user);
  if (auto err = check->call->policy->check_address(check->call->host, &a->addr)) {
    check->refusal = message_of(err);
    return CURL_SOCKET_BAD;
  }
  return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

}  // namespace

http_connection::http_connection() : handle_((global_init(), curl_easy_init())) {}

http_connection::~http_connection() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

caf::expected<http_answer> http_connection::perform(const http_call& c) {
  auto* h = static_cast<CURL*>(handle_);
  if (h == nullptr) return make_error(errc::unavailable, "libcurl could not make a handle");
  // Every option is set again for this exchange; the open connection survives the reset.
  curl_easy_reset(h);
  http_answer answer;
  auto headers = make_headers(c);
  char error_text[CURL_ERROR_SIZE] = {0};
  auto ms = std::max<long>(1, static_cast<long>(c.timeout.count()));
  curl_easy_setopt(h, CURLOPT_URL, c.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &answer.headers);
  set_tls(h, c);
  set_method(h, c);
  set_auth(h, c);
  socket_check check{&c, {}};
  if (c.policy) {
    // The BMC itself, not a proxy, is the peer whose address is checked.
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_checked);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &check);
  }
  auto rc = curl_easy_perform(h);
  // The handle keeps no pointer into this exchange's headers or buffers past it.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  // A refused address fails the call unless libcurl went on to an allowed one.
  if (rc != CURLE_OK && !check.refusal.empty())
    return make_error(errc::invalid_argument, check.refusal);
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
    answer.failure = error_text[0] != 0 ? error_text : curl_easy_strerror(rc);
    return answer;
  }
  if (rc != CURLE_OK) {
    std::string why = error_text[0] != 0 ? error_text : curl_easy_strerror(rc);
    return make_error(errc::unavailable, c.method + " " + c.url + " failed: " + why);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

caf::expected<http_answer> perform(const http_call& c) {
  http_connection once;
  return once.perform(c);
}

}  // namespace ab::bmc::detail
