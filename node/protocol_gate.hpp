#pragma once

// The node's side of the router-node protocol on each API call: which routers' calls it takes
// (their `X-AB-Protocol`), and which release answered (`X-AB-Node`, `X-AB-Node-Version`).

#include <optional>
#include <string>

#include "core/release.hpp"
#include "net/http/server.hpp"

namespace ab::node {

/// Names of the protocol's header fields.
inline constexpr const char* protocol_header = "X-AB-Protocol";
inline constexpr const char* node_header = "X-AB-Node";
inline constexpr const char* node_version_header = "X-AB-Node-Version";

/// The answer to a call whose `X-AB-Protocol` names a version outside `ours` (or no version
/// at all): 421 `protocol_mismatch`, which a router takes as "nothing done, try another node".
/// Nullopt when the call may go on; a call without the header (a client, or a router of
/// protocol 1) may.
std::optional<net::http_response> protocol_refusal(const net::http_request& req,
                                                   protocol_range ours);

/// Adds the node's id and software version to `r`.
void add_node_headers(net::http_response& r, const std::string& node_id,
                      const std::string& version);

}  // namespace ab::node
