#include "tests/fakes/http_call.hpp"

namespace ab::testing {

http_answer http_call(int port, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& extra_headers) {
  return harness::http_exchange(port, method, path, body, extra_headers);
}

http_answer http_call_from(const std::string& source, int port, const std::string& method,
                           const std::string& path, const std::string& body,
                           const std::string& extra_headers) {
  return harness::http_exchange_from(source, port, method, path, body, extra_headers);
}

std::string http_get(int port, const std::string& path) {
  auto a = http_call(port, "GET", path);
  return a.status ? std::to_string(a.status) + " " + a.body : std::string{};
}

}  // namespace ab::testing
