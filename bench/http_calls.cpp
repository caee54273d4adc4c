#include "bench/http_calls.hpp"

#include <curl/curl.h>

#include <cstdio>

namespace ab::bench {

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

call_answer call(int port, const std::string& method, const std::string& path,
                 const std::string& body, long timeout_s) {
  call_answer out;
  CURL* c = curl_easy_init();
  if (!c) return out;
  auto url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* headers = nullptr;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return out;
}

long post_json(int port, const std::string& path, const std::string& body, const char* who) {
  auto a = call(port, "POST", path, body);
  if (a.status >= 300)
    std::fprintf(stderr, "%s: %s -> %ld %s\n", who, path.c_str(), a.status, a.body.c_str());
  return a.status;
}

}  // namespace ab::bench
