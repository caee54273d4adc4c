#pragma once

// What release a process is, as its peers need to know it during a rolling upgrade: its
// software version, the router-node protocol versions it speaks, and the newest schema it
// knows. docs/operations.md#upgrades says how releases N and N-1 run side by side.

#include <string>

namespace ab {

/// The router-node protocol version this build speaks at most (docs/router.md#protocol-versions).
///
/// 1: heartbeats without protocol members, calls without `X-AB-Protocol` (the releases before
/// versioning). 2: heartbeats name the range a node speaks and whether it drains; routers send
/// `X-AB-Protocol` and pass the node's `X-AB-Node` and `X-AB-Node-Version` back.
inline constexpr int protocol_version = 2;

/// The oldest protocol version this build still speaks.
inline constexpr int oldest_protocol_version = 1;

/// The protocol versions a process speaks, `min` to `max` inclusive.
struct protocol_range {
  int min = oldest_protocol_version;
  int max = protocol_version;
};

/// Why a process speaking `ours` cannot talk to one speaking `theirs` (the ranges do not
/// meet), e.g. "speaks protocol 3-4; this router speaks 1-2: upgrade this router", naming the
/// side to upgrade (`who` or the node); empty when it can.
std::string incompatibility(protocol_range ours, protocol_range theirs, const std::string& who);

/// The version two compatible processes use: the highest both speak (0 when none).
int common_protocol(protocol_range a, protocol_range b);

/// A release as a node or a router presents itself.
struct release_info {
  /// The AutoBuild version string (`AB_VERSION`).
  std::string version;
  protocol_range protocol;
  /// The newest schema version this release applies and knows how to use; 0: every migration
  /// the binary holds.
  int schema_max = 0;
};

/// This build's release: `version` as given, the protocol range of this build, every migration.
release_info this_release(std::string version);

}  // namespace ab
