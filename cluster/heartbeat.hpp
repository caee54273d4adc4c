#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ab::cluster {

/// What a node announces to a router: who it is, where its API answers, how busy it is.
///
/// The wire form is a JSON object with exactly these members; `load` is busy workers over
/// workers (0..1), `api_in_flight` the API calls the node serves at this moment, `version`
/// the AutoBuild version string, `sent_at_ms` the sender's clock (milliseconds since the
/// epoch).
///
/// Protocol 2 adds `protocol` (the highest protocol version the node speaks), `protocol_min`
/// (the lowest) and `draining` (the node takes no new calls). A heartbeat without them is a
/// protocol 1 node's, and one whose `protocol_max` is 1 is encoded without them, as such a
/// node sends it (docs/router.md#protocol-versions).
struct heartbeat {
  std::string node_id, site;
  std::int64_t site_id = 0;
  std::string cluster, api_url;
  double load = 0;
  std::int64_t api_in_flight = 0;
  std::string version;
  std::int64_t sent_at_ms = 0;
  int protocol_min = 1;
  int protocol_max = 1;
  bool draining = false;
};

/// Highest protocol version a heartbeat may name.
inline constexpr int max_protocol = 65535;

/// Longest heartbeat body accepted; a larger one is refused before it is parsed.
inline constexpr std::size_t max_body_size = 4096;

/// Largest `site_id`: request ids are `site_id * 10^12 + n` and must stay within int64.
inline constexpr std::int64_t max_site_id = 9000;

/// Longest node id, cluster name, API URL and version string accepted.
inline constexpr std::size_t max_node_id = 253;
inline constexpr std::size_t max_cluster_name = 63;
inline constexpr std::size_t max_api_url = 2048;
inline constexpr std::size_t max_version = 64;

/// Name of the header that carries the signature, and the prefix of its value.
inline constexpr std::string_view signature_header_name = "X-AB-Signature";
inline constexpr std::string_view signature_prefix = "v1=";

/// Checks every field of `hb` against the rules `verify` applies; an `invalid_argument`
/// error names the field and what was expected.
caf::error check(const heartbeat& hb);

/// The JSON body of `hb` (the caller checks `hb` first, see `check`).
std::string encode(const heartbeat& hb);

/// Parses a heartbeat body without looking at any signature: a JSON object with exactly the
/// members of `heartbeat`, each of its type and within its bounds; anything else is an
/// `invalid_argument` error naming the member. The protocol 2 members may be absent (a
/// protocol 1 node). A member this build does not know is refused, unless the heartbeat's
/// `protocol` is above the one this build speaks: a newer node's additions are ignored.
caf::expected<heartbeat> parse(std::string_view body);

/// The `X-AB-Signature` header value for `body`: `v1=` and the lowercase hex HMAC-SHA256 of
/// `"<sent_at_ms>.<body>"` under `secret`.
std::string sign(std::string_view body, std::int64_t sent_at_ms, std::string_view secret);

/// Parses and checks a received heartbeat: signature header, clock window, fields.
///
/// A missing or wrong signature, or a `sent_at_ms` more than `max_skew_ms` from `now_ms`,
/// is an `unauthenticated` error; a body that is too large, not JSON, or has an unknown,
/// missing or mistyped member is an `invalid_argument` error. The signature is compared in
/// constant time and checked before the fields, so an unsigned caller learns nothing about
/// them.
caf::expected<heartbeat> verify(std::string_view body, std::string_view signature_header,
                                std::string_view secret, std::int64_t now_ms,
                                std::int64_t max_skew_ms = 60000);

/// Reads a shared secret file: a regular file of mode 600 or stricter, at most 4 KiB, its
/// trailing newline trimmed; an empty secret is refused. Errors are `bad_config` and name
/// the path (never the content).
caf::expected<std::string> read_secret_file(const std::string& path);

}  // namespace ab::cluster
