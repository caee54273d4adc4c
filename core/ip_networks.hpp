#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace ab {

/// A set of IP networks (`10.0.0.0/8`, `2001:db8::/32`) and single addresses, asked whether an
/// address is inside. IPv4-mapped IPv6 addresses count as their IPv4 address. Immutable once
/// made, so any thread may ask.
class ip_networks {
 public:
  /// Parses `entries`, each an IPv4 or IPv6 address or CIDR; an unparsable entry or a prefix
  /// length out of range is a `bad_config` error naming it.
  static caf::expected<ip_networks> parse(const std::vector<std::string>& entries);

  /// True if `address` (numeric, without port or brackets) is in one of the networks; an
  /// unparsable address is in none.
  bool contains(std::string_view address) const;

  bool empty() const { return networks_.empty(); }

 private:
  struct network {
    bool v4 = true;
    /// The address in network byte order (IPv4 in the first four bytes).
    std::array<std::uint8_t, 16> bytes{};
    int prefix = 0;
  };
  std::vector<network> networks_;
};

}  // namespace ab
