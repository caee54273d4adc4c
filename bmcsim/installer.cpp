#include "bmcsim/installer.hpp"

#include <cctype>
#include <memory>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

namespace ab::bmc::sim {

namespace {

/// The value of hex digit `c`, or -1.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  auto lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

/// libcurl's progress hook: a non-zero return aborts the transfer once the fleet stops.
int abort_when_stopping(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

/// The answer body is not needed; libcurl must not print it.
std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
  return size * count;
}

}  // namespace

std::string percent_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    int hi = i + 2 < text.size() && text[i] == '%' ? hex_value(text[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
    if (lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::optional<install_order> install_order_of(const std::string& image_url) {
  auto q = image_url.find('?');
  if (q == std::string::npos) return std::nullopt;
  install_order order;
  order.image = image_url.substr(0, q);
  const auto query = image_url.substr(q + 1);
  for (std::size_t start = 0; start <= query.size();) {
    auto end = std::min(query.find('&', start), query.size());
    auto pair = query.substr(start, end - start);
    auto eq = pair.find('=');
    auto key = pair.substr(0, eq);
    auto value = eq == std::string::npos ? std::string{} : percent_decode(pair.substr(eq + 1));
    if (key == "callback") order.callback = value;
    if (key == "token") order.token = value;
    start = end + 1;
  }
  if (order.callback.empty() || order.token.empty()) return std::nullopt;
  return order;
}

std::string callback_body(const install_order& order, bool failed) {
  nlohmann::json j{{"status", failed ? "failed" : "succeeded"},
                   {"message", failed ? "ab-bmcsim: the installation of " + order.image +
                                            " failed (injected install_fail)"
                                      : "ab-bmcsim: installed " + order.image}};
  return j.dump();
}

callback_result post_callback(const install_order& order, const std::string& body,
                              std::chrono::milliseconds timeout, const std::atomic<bool>& stop) {
  callback_result result;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy{curl_easy_init(), curl_easy_cleanup};
  if (!easy) {
    result.failure = "curl_easy_init failed";
    return result;
  }
  auto token_header = "X-Callback-Token: " + order.token;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, token_header.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list{headers,
                                                                          curl_slist_free_all};
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, order.callback.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&stop));
  auto code = curl_easy_perform(h);
  if (code != CURLE_OK) {
    result.failure = curl_easy_strerror(code);
    return result;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

}  // namespace ab::bmc::sim
