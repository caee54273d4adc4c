#pragma once

// A blocking HTTP client of the project's API for the benchmarks' clients: one keep-alive
// connection (a libcurl easy handle), one thread.

#include <memory>
#include <string>

namespace ab::bench {

/// What a call got.
struct api_answer {
  /// The HTTP status; 0 when no answer came.
  long status = 0;
  std::string body;
  /// The `Retry-After` header in seconds, 0 when absent.
  long retry_after = 0;
};

/// Calls `http://127.0.0.1:PORT` over one kept-alive connection. Not thread-safe: one per
/// thread. `curl_global_init` must have run.
class api_client {
 public:
  explicit api_client(int port, long timeout_ms = 60000);
  ~api_client();
  api_client(const api_client&) = delete;
  api_client& operator=(const api_client&) = delete;

  api_answer get(const std::string& path);
  /// POSTs `body` as `application/json`, with `Idempotency-Key: key` unless empty.
  api_answer post(const std::string& path, const std::string& body, const std::string& key = "");

 private:
  api_answer call(const std::string& path, const std::string* body, const std::string& key);

  struct handle;
  std::unique_ptr<handle> h_;
  int port_;
  long timeout_ms_;
};

}  // namespace ab::bench
