// Fuzzes the HTTP framing of the server: raw bytes go through Beast's request parser (as a
// session configures it) and `to_request`; the parsed request, echoed as a handler's response
// with an input-chosen status, goes through `to_wire` and back through Beast's response
// parser. Invariants: header names arrive lower-cased and nothing is lost, and whatever a
// handler answers leaves as one well-formed HTTP/1.1 message. `json_string` of the input is
// checked to be the JSON string of it.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.hpp"
#include "net/http/detail/wire.hpp"

namespace {

using ab::fuzz::require;
namespace http = boost::beast::http;
namespace net = ab::net;

/// The body limit tests use; sessions take theirs from `server_options`.
constexpr std::size_t body_limit = std::size_t{64} * 1024;

/// Feeds all of `bytes` to `parser` as one read and then the end of the stream; true if
/// that yields a complete message.
template <class Parser>
bool parse_all(Parser& parser, std::string_view bytes) {
  boost::beast::error_code ec;
  boost::asio::const_buffer buf{bytes.data(), bytes.size()};
  while (buf.size() > 0 && !parser.is_done()) {
    auto used = parser.put(buf, ec);
    if (ec == http::error::need_more) break;
    if (ec) return false;
    buf += used;
  }
  if (!parser.is_done()) parser.put_eof(ec);
  return !ec && parser.is_done();
}

bool is_lower_token(const std::string& name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) != 0 || c == ':' || c == ' ';
  });
}

/// Checks `to_request` against the message Beast parsed; returns the converted request.
net::http_request check_request(net::detail::wire_request&& wire) {
  std::string method{wire.method_string()};
  std::string target{wire.target()};
  std::string body = wire.body();
  std::size_t fields = std::distance(wire.begin(), wire.end());
  auto req = net::detail::to_request(std::move(wire), "127.0.0.1:1");
  require(req.method == method && req.target == target && req.body == body,
          "to_request keeps the method, target and body");
  require(req.headers.size() <= fields, "to_request makes no header up");
  for (const auto& [name, value] : req.headers)
    require(is_lower_token(name), "to_request lower-cases header names");
  return req;
}

/// A handler response echoing `req`: its headers (framing ones too) and body, under a status
/// taken from the body's first byte (so invalid statuses occur).
net::http_response echo(const net::http_request& req) {
  net::http_response r;
  r.status = req.body.empty() ? 200 : static_cast<unsigned char>(req.body[0]) * 4;
  r.body = req.body;
  for (const auto& [name, value] : req.headers) r.headers.emplace_back(name, value);
  r.headers.emplace_back("X-Target", req.target);
  return r;
}

void check_response(net::http_response r, bool head) {
  spdlog::logger log{"fuzz", std::make_shared<spdlog::sinks::null_sink_mt>()};
  bool replaced = r.status < 200 || r.status > 999;
  int expected = replaced ? 500 : r.status;
  bool bodiless = expected == 204 || expected == 304 || head;
  std::string body = r.body;
  std::ostringstream out;
  out << net::detail::to_wire(std::move(r), head, false, log);

  http::response_parser<http::string_body> parser;
  parser.skip(head);
  parser.eager(true);
  parser.body_limit(body_limit + 4096);
  require(parse_all(parser, out.str()), "to_wire yields one well-formed HTTP message");
  const auto& res = parser.get();
  require(res.result_int() == static_cast<unsigned>(expected), "to_wire keeps a valid status");
  require(res.count(http::field::transfer_encoding) == 0, "to_wire sends no transfer coding");
  if (bodiless) {
    require(res.body().empty(), "to_wire sends no body where HTTP forbids one");
  } else if (replaced) {
    auto doc = nlohmann::json::parse(res.body(), nullptr, false);
    require(doc.contains("error") && doc["error"].value("code", "") == "internal",
            "to_wire answers an invalid status with an internal error");
  } else {
    require(res.body() == body, "to_wire sends the handler's body");
  }
}

void check_json_string(const std::string& s) {
  if (!ab::fuzz::json_encodable(s)) return;
  auto encoded = net::detail::json_string(s);
  auto decoded = nlohmann::json::parse(encoded, nullptr, false);
  require(decoded.is_string() && decoded.get<std::string>() == s,
          "json_string gives the JSON string of its input");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  check_json_string(std::string{bytes});
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(body_limit);
  if (!parse_all(parser, bytes)) return 0;
  bool head = parser.get().method() == http::verb::head;
  auto req = check_request(parser.release());
  check_response(echo(req), head);
  return 0;
}
