#include "node/protocol_gate.hpp"

#include <charconv>

#include "net/api/error.hpp"

namespace ab::node {

std::optional<net::http_response> protocol_refusal(const net::http_request& req,
                                                   protocol_range ours) {
  auto it = req.headers.find("x-ab-protocol");
  if (it == req.headers.end()) return std::nullopt;
  const auto& text = it->second;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  bool number = ec == std::errc{} && end == text.data() + text.size() && !text.empty();
  if (number && v >= ours.min && v <= ours.max) return std::nullopt;
  auto speaks = ours.min == ours.max ? std::to_string(ours.min)
                                     : std::to_string(ours.min) + "-" + std::to_string(ours.max);
  return net::error_response(
      {421, "protocol_mismatch",
       (number ? "this node does not speak protocol " + std::to_string(v)
               : std::string{"X-AB-Protocol must be a protocol version number"}) +
           "; it speaks " + speaks,
       0});
}

void add_node_headers(net::http_response& r, const std::string& node_id,
                      const std::string& version) {
  r.headers.emplace_back(node_header, node_id);
  r.headers.emplace_back(node_version_header, version);
}

}  // namespace ab::node
