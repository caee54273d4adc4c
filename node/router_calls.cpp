#include "node/router_calls.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace ab::node {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Answers are read and dropped: a router says all it needs in its status.
std::size_t discard(char*, std::size_t size, std::size_t n, void*) {
  return size * n;
}

struct easy_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using easy_ptr = std::unique_ptr<CURL, easy_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

/// A handle for `url` with the deadline, the CA bundle, and nothing but HTTP(S).
easy_ptr make_easy(const std::string& url, const call_options& options, char* error_buffer) {
  easy_ptr h{curl_easy_init()};
  if (!h) return h;
  auto* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  // The environment's proxy settings are for people's traffic, not for a node's own network.
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  return h;
}

call_result result_of(CURL* c, CURLcode code, const char* error_buffer) {
  call_result r;
  if (code != CURLE_OK) {
    r.error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    return r;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  return r;
}

}  // namespace

call_result probe(const std::string& url, const call_options& options) {
  global_init();
  char error_buffer[CURL_ERROR_SIZE] = {};
  auto h = make_easy(url, options, error_buffer);
  if (!h) return {0, "cannot make a libcurl handle"};
  auto code = curl_easy_perform(h.get());
  return result_of(h.get(), code, error_buffer);
}

std::vector<call_result> post_all(const std::vector<heartbeat_post>& posts,
                                  const call_options& options) {
  global_init();
  std::vector<call_result> out(posts.size());
  struct call {
    easy_ptr handle;
    slist_ptr headers;
    char error_buffer[CURL_ERROR_SIZE] = {};
  };
  std::vector<std::unique_ptr<call>> calls;
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi{curl_multi_init(),
                                                              curl_multi_cleanup};
  if (!multi) {
    for (auto& r : out) r.error = "cannot make a libcurl multi handle";
    return out;
  }
  for (std::size_t i = 0; i < posts.size(); ++i) {
    auto c = std::make_unique<call>();
    c->handle = make_easy(posts[i].url, options, c->error_buffer);
    if (!c->handle) {
      out[i].error = "cannot make a libcurl handle";
      calls.push_back(nullptr);
      continue;
    }
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    list = curl_slist_append(list, ("X-AB-Signature: " + posts[i].signature).c_str());
    // No "Expect: 100-continue" round trip for a small body.
    list = curl_slist_append(list, "Expect:");
    c->headers.reset(list);
    auto* h = c->handle.get();
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(posts[i].body.size()));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, posts[i].body.c_str());
    curl_easy_setopt(h, CURLOPT_PRIVATE, reinterpret_cast<char*>(i));
    curl_multi_add_handle(multi.get(), h);
    calls.push_back(std::move(c));
  }
  // Every handle has its own deadline, so the loop ends by the longest of them.
  for (int running = 1; running > 0;) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
    if (running > 0) curl_multi_poll(multi.get(), nullptr, 0, 200, nullptr);
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    char* index = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &index);
    auto i = reinterpret_cast<std::size_t>(index);
    out[i] = result_of(msg->easy_handle, msg->data.result, calls[i]->error_buffer);
  }
  for (auto& c : calls)
    if (c) curl_multi_remove_handle(multi.get(), c->handle.get());
  return out;
}

}  // namespace ab::node
