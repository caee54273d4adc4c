#include "core/ip_networks.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <boost/asio/ip/address.hpp>

#include "core/error.hpp"

namespace ab {

namespace {

/// `text` as IPv4 (4 bytes) or IPv6 (16 bytes), IPv4-mapped IPv6 as IPv4.
std::optional<std::pair<bool, std::array<std::uint8_t, 16>>> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string{text}, ec);
  if (ec) return std::nullopt;
  std::array<std::uint8_t, 16> out{};
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
    return std::make_pair(true, out);
  }
  auto b = a.to_v6().to_bytes();
  std::copy(b.begin(), b.end(), out.begin());
  return std::make_pair(false, out);
}

bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                 int prefix) {
  int whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

caf::expected<ip_networks> ip_networks::parse(const std::vector<std::string>& entries) {
  ip_networks out;
  for (const auto& entry : entries) {
    auto bad = [&] {
      return make_error(errc::bad_config, "'" + entry +
                                              "' is not an IP address or CIDR (e.g. 10.0.0.5, "
                                              "10.0.0.0/24, 2001:db8::/64)");
    };
    std::string_view text = entry;
    auto slash = text.find('/');
    auto ip = parse_address(text.substr(0, slash));
    if (!ip) return bad();
    network n;
    n.v4 = ip->first;
    n.bytes = ip->second;
    int max = n.v4 ? 32 : 128;
    n.prefix = max;
    if (slash != std::string_view::npos) {
      auto digits = text.substr(slash + 1);
      int len = -1;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
      if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || len < 0 ||
          len > max)
        return bad();
      n.prefix = len;
    }
    out.networks_.push_back(n);
  }
  return out;
}

bool ip_networks::contains(std::string_view address) const {
  auto ip = parse_address(address);
  if (!ip) return false;
  return std::any_of(networks_.begin(), networks_.end(), [&](const network& n) {
    return n.v4 == ip->first && same_prefix(n.bytes, ip->second, n.prefix);
  });
}

}  // namespace ab
