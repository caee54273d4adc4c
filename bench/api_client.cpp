#include "bench/api_client.hpp"

#include <curl/curl.h>

#include <strings.h>
#include <cstdlib>

namespace ab::bench {

struct api_client::handle {
  CURL* easy = curl_easy_init();
  ~handle() {
    if (easy) curl_easy_cleanup(easy);
  }
};

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// Keeps the `Retry-After` seconds of an answer.
std::size_t header_line(char* data, std::size_t size, std::size_t n, void* out) {
  constexpr char name[] = "retry-after:";
  auto len = size * n;
  if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0)
    *static_cast<long*>(out) =
        std::strtol(std::string(data + sizeof name - 1, len).c_str(), nullptr, 10);
  return len;
}

}  // namespace

api_client::api_client(int port, long timeout_ms)
    : h_(std::make_unique<handle>()), port_(port), timeout_ms_(timeout_ms) {}

api_client::~api_client() = default;

api_answer api_client::get(const std::string& path) {
  return call(path, nullptr, "");
}

api_answer api_client::post(const std::string& path, const std::string& body,
                            const std::string& key) {
  return call(path, &body, key);
}

api_answer api_client::call(const std::string& path, const std::string* body,
                            const std::string& key) {
  api_answer out;
  CURL* c = h_->easy;
  if (!c) return out;
  auto url = "http://127.0.0.1:" + std::to_string(port_) + path;
  curl_slist* headers = nullptr;
  std::string key_header = "Idempotency-Key: " + key;
  if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!key.empty()) headers = curl_slist_append(headers, key_header.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.retry_after);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return out;
}

}  // namespace ab::bench
