#include "net/http/detail/wire.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <boost/beast/core/string.hpp>

namespace ab::net::detail {

namespace http = boost::beast::http;

namespace {

/// True for the characters RFC 7230 allows in a field name.
bool is_token_char(unsigned char c) {
  static constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) != 0 || specials.find(static_cast<char>(c)) != std::string_view::npos;
}

/// True if the field can be sent as is: a token name and a value without control line breaks.
bool is_valid_field(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  return value.find_first_of(std::string_view{"\r\n\0", 3}) == std::string_view::npos;
}

/// True for the fields that frame the message, which only the server may set.
bool is_framing_field(boost::beast::string_view name) {
  using boost::beast::iequals;
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "connection");
}

std::string lower(boost::beast::string_view s) {
  std::string out{s.data(), s.size()};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

http_response error_response(int status, std::string_view code, std::string_view message) {
  http_response r;
  r.status = status;
  r.body =
      R"({"error":{"code":)" + json_string(code) + R"(,"message":)" + json_string(message) + "}}";
  return r;
}

std::string endpoint_string(const boost::asio::ip::tcp::endpoint& ep) {
  auto port = std::to_string(ep.port());
  if (ep.address().is_v6()) return "[" + ep.address().to_string() + "]:" + port;
  return ep.address().to_string() + ":" + port;
}

http_request to_request(wire_request&& req, std::string remote) {
  http_request out;
  out.method = std::string{req.method_string().data(), req.method_string().size()};
  out.target = std::string{req.target().data(), req.target().size()};
  for (const auto& field : req) {
    auto value = field.value();
    auto [it, inserted] =
        out.headers.emplace(lower(field.name_string()), std::string{value.data(), value.size()});
    // RFC 7230 section 3.2.2: repeated fields combine into one comma-separated list.
    if (!inserted) it->second.append(", ").append(value.data(), value.size());
  }
  out.body = std::move(req.body());
  out.remote = std::move(remote);
  return out;
}

wire_response to_wire(http_response&& r, bool head, bool keep_alive, spdlog::logger& log) {
  if (r.status < 200 || r.status > 999) {
    log.error("handler answered with invalid status {}; sending 500 instead", r.status);
    r = error_response(500, "internal", "The request handler produced an invalid status.");
  }
  wire_response res;
  res.version(11);
  res.result(static_cast<unsigned>(r.status));
  res.set(http::field::server, "autobuild");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) {
    if (is_framing_field(name) || !is_valid_field(name, value)) {
      log.warn("handler set header field '{}', which is ignored", lower(name));
    } else if (boost::beast::iequals(name, "server") ||
               boost::beast::iequals(name, "content-type")) {
      res.set(name, value);
    } else {
      res.insert(name, value);
    }
  }
  // RFC 7230 section 3.3: 204 and 304 carry no body and no length; an answer to HEAD carries
  // the length the body would have.
  if (r.status == 204 || r.status == 304) {
    res.erase(http::field::content_type);
  } else if (head) {
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  res.keep_alive(keep_alive);
  return res;
}

std::string head_of(const wire_response& res) {
  std::string out;
  out.reserve(256);
  auto reason = res.reason();
  out.append("HTTP/1.1 ").append(std::to_string(res.result_int())).append(" ");
  out.append(reason.data(), reason.size()).append("\r\n");
  for (const auto& field : res) {
    auto name = field.name_string();
    auto value = field.value();
    out.append(name.data(), name.size()).append(": ").append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

}  // namespace ab::net::detail
