#pragma once

// Which BMC endpoints a node talks to. Checked when a host is registered or changed, and
// again on every connection, after name resolution and before a byte is sent: a host writer
// must not be able to point the node (and the credentials it sends) at a service of its own
// choosing, the node itself, or its link-local neighbours.

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ab::bmc {

/// What a node allows.
struct endpoint_options {
  /// The site's BMC networks: CIDRs (`10.20.0.0/16`, `fd00:bmc::/48`, or one address) and
  /// host name patterns (`*.bmc.dc1`, with `*` and `?`). Empty: any network, save the refused
  /// addresses below.
  std::vector<std::string> networks;
  /// Allows loopback addresses and the node's own addresses (simulated BMCs on this machine).
  bool allow_loopback = false;
};

/// An endpoint's parts: `SCHEME://HOST[:PORT][PATH]`; `host` without IPv6 brackets.
struct endpoint_parts {
  std::string scheme;
  std::string host;
  std::string port;
  std::string path;
};

/// The rules of BMC endpoints:
/// - no whitespace or control characters, no `USER@`, the host in lower case, no trailing `/`;
/// - a scheme a driver serves: `https`, `http` (Redfish) or `ipmi` (`ipmi://HOST[:PORT]`);
/// - with `networks` configured, a host that matches a pattern or whose every address is
///   inside a CIDR;
/// - no address that is unspecified, link-local (169.254/16, fe80::/10), multicast, loopback
///   or one of the node's own (the last two unless `allow_loopback`).
/// Errors are `errc::invalid_argument` with a sentence starting `bmc_endpoint`. Thread-safe.
class endpoint_policy {
 public:
  /// Parses the options; a bad network is `errc::bad_config` naming it.
  static caf::expected<std::shared_ptr<const endpoint_policy>> make(endpoint_options options);

  /// Splits an endpoint, checking its syntax and scheme.
  static caf::expected<endpoint_parts> parse(const std::string& endpoint);

  /// The check at registration: syntax, scheme, networks, and the addresses the host resolves
  /// to now. A name that does not resolve passes when no CIDR must hold it: it is checked
  /// again on every connection.
  caf::error check(const std::string& endpoint) const;

  /// The check on connecting to `address` for the endpoint host `host`.
  caf::error check_address(const std::string& host, const sockaddr* address) const;

  /// Resolves `host` and checks every address; the first one, numeric, to connect to.
  caf::expected<std::string> resolve(const std::string& host) const;

  const endpoint_options& options() const { return options_; }

 private:
  struct cidr {
    int family = 0;
    unsigned char bytes[16] = {};
    int bits = 0;
  };

  explicit endpoint_policy(endpoint_options options) : options_(std::move(options)) {}
  bool matches_pattern(const std::string& host) const;
  bool inside_cidr(const sockaddr* address) const;

  endpoint_options options_;
  std::vector<cidr> cidrs_;
  std::vector<std::string> patterns_;
};

}  // namespace ab::bmc
