#pragma once

// Conversions between the public request/response types and Beast messages.

#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/http/server.hpp"

namespace ab::net::detail {

/// A response as Beast serializes it.
using wire_response = boost::beast::http::response<boost::beast::http::string_body>;

/// A request as Beast parses it.
using wire_request = boost::beast::http::request<boost::beast::http::string_body>;

/// `s` as a quoted JSON string.
std::string json_string(std::string_view s);

/// A JSON error reply: `{"error":{"code":CODE,"message":MESSAGE}}` with status `status`.
http_response error_response(int status, std::string_view code, std::string_view message);

/// The peer as `ip:port`, or `[ip]:port` for IPv6.
std::string endpoint_string(const boost::asio::ip::tcp::endpoint& ep);

/// The public form of a parsed request from `remote`, header names lower-cased.
http_request to_request(wire_request&& req, std::string remote);

/// The HTTP/1.1 message for `r`: adds `Server`, `Content-Type`, `Content-Length` and the
/// keep-alive decision, drops the body where HTTP forbids one (`head` is true for answers to
/// `HEAD`), and replaces an invalid status with 500; problems are logged to `log`.
wire_response to_wire(http_response&& r, bool head, bool keep_alive, spdlog::logger& log);

/// The status line and header fields of `res` as they go on the wire, ending with the empty
/// line: written in one gather write with the body, without Beast's serializer (whose buffer
/// sequences cost more than the rest of a small answer's path).
std::string head_of(const wire_response& res);

}  // namespace ab::net::detail
