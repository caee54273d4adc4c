#include "tools/abctl/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace ab::abctl {

namespace {

/// libcurl's global set-up, once per process, before any handle.
struct curl_global {
  curl_global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~curl_global() { curl_global_cleanup(); }
};

void ensure_curl() {
  static curl_global g;
}

/// What a write callback collects.
struct sink {
  api_answer* answer;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<sink*>(user);
  auto len = size * n;
  if (s->answer->body.size() + len > api_client::max_body) {
    s->too_large = true;
    return 0;  // aborts the transfer
  }
  s->answer->body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* a = static_cast<api_answer*>(user);
  auto len = size * n;
  std::string line(data, len);
  // A new status line (after `100 Continue`) starts the fields again.
  if (line.rfind("HTTP/", 0) == 0) {
    a->headers.clear();
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos || a->headers.size() >= 200) return len;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto value = line.substr(colon + 1);
  auto b = value.find_first_not_of(" \t");
  auto e = value.find_last_not_of(" \t\r\n");
  a->headers[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  return len;
}

/// Seconds of a `Retry-After` holding a number of seconds; 0 otherwise.
int retry_after(const api_answer& a) {
  auto it = a.headers.find("retry-after");
  if (it == a.headers.end() || it->second.empty() || it->second.size() > 6 ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoi(it->second);
}

bool unavailable(long status) {
  return status == 502 || status == 503 || status == 504 || status == 429;
}

}  // namespace

struct api_client::connection {
  std::string base;
  CURL* handle = nullptr;
  explicit connection(std::string b) : base(std::move(b)), handle(curl_easy_init()) {}
  ~connection() {
    if (handle) curl_easy_cleanup(handle);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
};

api_client::api_client(const settings& s, note_sink notes)
    : settings_(s), notes_(std::move(notes)) {
  ensure_curl();
  for (const auto& r : settings_.routers) connections_.push_back(std::make_unique<connection>(r));
}

api_client::~api_client() = default;

api_client::outcome api_client::perform(connection& conn, const api_call& c, api_answer& out,
                                        std::string& why) {
  CURL* h = conn.handle;
  if (!h) {
    why = "libcurl could not make a handle";
    return outcome::never_sent;
  }
  // Reset keeps the handle's open connection (and TLS session) for the next call.
  curl_easy_reset(h);
  auto url = conn.base + c.path;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  // Routers are called directly, never through a proxy of the environment.
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  auto total = static_cast<long>(settings_.timeout.count());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(total, 5000L));
  if (!settings_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str());
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "User-Agent: abctl");
  std::string auth = "Authorization: Bearer " + settings_.token;
  if (!settings_.token.empty()) headers = curl_slist_append(headers, auth.c_str());
  std::string key = "Idempotency-Key: " + c.idempotency_key;
  if (!c.idempotency_key.empty()) headers = curl_slist_append(headers, key.c_str());
  if (c.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (c.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c.body.size()));
    headers = curl_slist_append(headers, "Content-Type: application/json");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  sink body{&out};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &out);
  auto res = curl_easy_perform(h);
  curl_slist_free_all(headers);
  out.router = conn.base;
  if (res == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    return outcome::answered;
  }
  why = body.too_large ? "the answer is larger than 64 MiB"
                       : std::string{curl_easy_strerror(res)} + (errbuf[0] ? ": " : "") + errbuf;
  switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return outcome::never_sent;
    case CURLE_OPERATION_TIMEDOUT: {
      // A timeout before the connection was made sent nothing.
      curl_off_t connected = 0;
      curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
      return connected == 0 ? outcome::never_sent : outcome::maybe_sent;
    }
    default:
      return outcome::maybe_sent;
  }
}

call_result api_client::call(const api_call& c) {
  call_result result;
  std::vector<std::string> report;
  const auto n = connections_.size();
  for (int round = 0; round <= settings_.retries; ++round) {
    int wait_s = 0;
    report.clear();  // the last round tells what each URL does now
    for (std::size_t k = 0; k < n; ++k) {
      auto i = (current_ + k) % n;
      auto& conn = *connections_[i];
      api_answer a;
      std::string why;
      auto o = perform(conn, c, a, why);
      if (o == outcome::answered && !unavailable(a.status)) {
        current_ = i;
        result.answer = std::move(a);
        return result;
      }
      if (o == outcome::answered) {
        why = "answered " + std::to_string(a.status);
        wait_s = std::max(wait_s, retry_after(a));
        // A router's 502 or 504 may come after the node did the work.
        if (a.status == 502 || a.status == 504) result.failure.maybe_done = true;
      } else if (o == outcome::maybe_sent) {
        result.failure.maybe_done = true;
      }
      report.push_back(conn.base + ": " + why);
      bool stop = !c.repeatable && result.failure.maybe_done;
      bool last = round == settings_.retries && k + 1 == n;
      if (notes_ && !stop && !last)
        notes_(conn.base + ": " + why + "; trying " + connections_[(i + 1) % n]->base);
      if (stop) {
        result.failure.message = conn.base + ": " + why +
                                 " (the call may or may not have been carried out; it is not "
                                 "sent again because repeating it is not safe)";
        return result;
      }
    }
    if (round < settings_.retries) {
      auto backoff = std::chrono::milliseconds{250 << std::min(round, 4)};
      auto wait = std::max(backoff, std::chrono::milliseconds{std::min(wait_s, 5) * 1000});
      std::this_thread::sleep_for(wait);
    }
  }
  std::string msg = "no router answered";
  for (std::size_t i = 0; i < report.size() && i < 6; ++i) msg += (i ? "; " : ": ") + report[i];
  if (report.size() > 6) msg += "; …";
  result.failure.message = msg;
  return result;
}

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

}  // namespace ab::abctl
