#pragma once

#include <string>

#include "core/ip_networks.hpp"
#include "net/http/server.hpp"

namespace ab::net {

/// The peer's address without its port (`ip:port`, `[ip]:port`).
std::string address_of(const std::string& remote);

/// The address of the client behind a call: the connection's peer, or, when the peer is one of
/// `trusted_routers`, the last address of its `X-Forwarded-For` (the hop that router added).
///
/// From any other peer the header is ignored, so that nobody can choose the address their
/// failures and audit records are counted under. A trusted router's header that holds no valid
/// address leaves the router's own address.
std::string client_address(const http_request& req, const ip_networks& trusted_routers);

}  // namespace ab::net
