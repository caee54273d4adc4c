#include "net/api/forwarded.hpp"

namespace ab::net {

std::string address_of(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') return remote.substr(1, remote.find(']') - 1);
  return remote.substr(0, remote.rfind(':'));
}

std::string client_address(const http_request& req, const ip_networks& trusted_routers) {
  auto peer = address_of(req.remote);
  if (trusted_routers.empty() || !trusted_routers.contains(peer)) return peer;
  auto header = req.headers.find("x-forwarded-for");
  if (header == req.headers.end()) return peer;
  // Repeated fields arrive joined with ", ": the last entry is the one the router wrote.
  const auto& list = header->second;
  auto comma = list.rfind(',');
  auto last = list.substr(comma == std::string::npos ? 0 : comma + 1);
  auto first = last.find_first_not_of(" \t");
  if (first == std::string::npos) return peer;
  last = last.substr(first, last.find_last_not_of(" \t") - first + 1);
  // Only a plain address is taken: it keys counters and is written to the audit trail.
  if (!ip_networks::parse({last})) return peer;
  return last;
}

}  // namespace ab::net
