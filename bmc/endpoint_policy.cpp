#include "bmc/endpoint_policy.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "bmc/driver_factory.hpp"
#include "core/error.hpp"

namespace ab::bmc {

namespace {

caf::error refused(const std::string& why) {
  return make_error(errc::invalid_argument, "bmc_endpoint " + why);
}

/// An address as family and bytes; an IPv4-mapped IPv6 address counts as IPv4.
struct address {
  int family = 0;
  unsigned char bytes[16] = {};
};

address address_of(const sockaddr* sa) {
  address a;
  if (sa == nullptr) return a;
  if (sa->sa_family == AF_INET) {
    a.family = AF_INET;
    std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6)) {
      a.family = AF_INET;
      std::memcpy(a.bytes, in6.s6_addr + 12, 4);
    } else {
      a.family = AF_INET6;
      std::memcpy(a.bytes, in6.s6_addr, 16);
    }
  }
  return a;
}

bool same(const address& a, const address& b) {
  return a.family == b.family && std::memcmp(a.bytes, b.bytes, a.family == AF_INET ? 4 : 16) == 0;
}

bool loopback(const address& a) {
  if (a.family == AF_INET) return a.bytes[0] == 127;
  static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a.bytes, one, 16) == 0;
}

/// Why no BMC may be at `a` whatever the options; "" when it may.
std::string never(const address& a) {
  if (a.family == AF_INET) {
    if (a.bytes[0] == 0) return "an unspecified address";
    if (a.bytes[0] == 169 && a.bytes[1] == 254) return "a link-local address";
    if (a.bytes[0] >= 224) return "a multicast or broadcast address";
    return {};
  }
  if (a.family != AF_INET6) return "an address of an unknown family";
  static const unsigned char zero[16] = {};
  if (std::memcmp(a.bytes, zero, 16) == 0) return "an unspecified address";
  if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) return "a link-local address";
  if (a.bytes[0] == 0xff) return "a multicast address";
  return {};
}

/// True if `a` is an address of one of this machine's interfaces.
bool own(const address& a) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (auto* i = list; i != nullptr && !found; i = i->ifa_next)
    if (i->ifa_addr != nullptr) found = same(address_of(i->ifa_addr), a);
  ::freeifaddrs(list);
  return found;
}

bool is_control_or_space(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

/// `*` matches any run of characters, `?` one.
bool glob(const char* p, const char* s) {
  for (; *p != '\0'; ++p, ++s) {
    if (*p == '*') {
      for (const char* t = s;; ++t) {
        if (glob(p + 1, t)) return true;
        if (*t == '\0') return false;
      }
    }
    if (*s == '\0' || (*p != '?' && *p != *s)) return false;
  }
  return *s == '\0';
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/// The addresses `host` resolves to; empty when it does not resolve.
std::vector<sockaddr_storage> lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::vector<sockaddr_storage> out;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (auto* i = found; i != nullptr; i = i->ai_next) {
    sockaddr_storage s{};
    std::memcpy(&s, i->ai_addr, std::min<std::size_t>(i->ai_addrlen, sizeof s));
    out.push_back(s);
  }
  ::freeaddrinfo(found);
  return out;
}

std::string numeric(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, text, sizeof text);
  else
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr, text, sizeof text);
  return text;
}

}  // namespace

caf::expected<std::shared_ptr<const endpoint_policy>> endpoint_policy::make(
    endpoint_options options) {
  std::shared_ptr<endpoint_policy> p(new endpoint_policy(std::move(options)));
  for (const auto& n : p->options_.networks) {
    auto bad = [&](const std::string& why) {
      return make_error(errc::bad_config, "bmc-networks: '" + n + "': " + why);
    };
    if (n.empty()) return bad("expected a CIDR or a host pattern");
    auto slash = n.find('/');
    auto ip = n.substr(0, slash);
    cidr c;
    if (::inet_pton(AF_INET, ip.c_str(), c.bytes) == 1) {
      c.family = AF_INET;
    } else if (::inet_pton(AF_INET6, ip.c_str(), c.bytes) == 1) {
      c.family = AF_INET6;
    } else {
      if (slash != std::string::npos || !std::all_of(n.begin(), n.end(), [](char ch) {
            return host_char(ch) || ch == '*' || ch == '?';
          }))
        return bad("expected a CIDR (10.0.0.0/8) or a host pattern (*.bmc.example)");
      p->patterns_.push_back(n);
      continue;
    }
    int max = c.family == AF_INET ? 32 : 128;
    c.bits = max;
    if (slash != std::string::npos) {
      auto bits = n.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 ||
          bits.find_first_not_of("0123456789") != std::string::npos || std::stoi(bits) > max)
        return bad("the prefix length must be a number from 0 to " + std::to_string(max));
      c.bits = std::stoi(bits);
    }
    p->cidrs_.push_back(c);
  }
  return std::shared_ptr<const endpoint_policy>(std::move(p));
}

caf::expected<endpoint_parts> endpoint_policy::parse(const std::string& endpoint) {
  if (endpoint.empty() || endpoint.size() > 512) return refused("must be 1 to 512 characters");
  if (std::any_of(endpoint.begin(), endpoint.end(),
                  [](char c) { return is_control_or_space(static_cast<unsigned char>(c)); }))
    return refused("must not contain whitespace or control characters");
  endpoint_parts e;
  auto sep = endpoint.find("://");
  e.scheme = endpoint.substr(0, sep);
  // The schemes are the resolver's (driver_factory): one that no driver serves is refused.
  if (sep == std::string::npos || !route_of(endpoint))
    return refused("must start with https://, http:// (Redfish) or ipmi:// (IPMI)");
  auto rest = endpoint.substr(sep + 3);
  auto path_at = rest.find('/');
  auto authority = rest.substr(0, path_at);
  e.path = path_at == std::string::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string::npos)
    return refused("must not carry a user name (credentials come from credential_ref)");
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return refused("has an unclosed '['");
    e.host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return refused("has text after ']'");
    if (!after.empty()) e.port = after.substr(1);
    in6_addr probe{};
    if (::inet_pton(AF_INET6, e.host.c_str(), &probe) != 1)
      return refused("has no IPv6 address inside '[' and ']'");
  } else {
    auto colon = authority.find(':');
    e.host = authority.substr(0, colon);
    if (colon != std::string::npos) e.port = authority.substr(colon + 1);
    if (e.host.empty() || !std::all_of(e.host.begin(), e.host.end(), host_char) ||
        e.host.front() == '-' || e.host.front() == '.')
      return refused("needs a host of lower-case letters, digits, '.', '-' and '_'");
  }
  if (authority.back() == ':' ||
      (!e.port.empty() &&
       (e.port.size() > 5 || e.port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(e.port) == 0 || std::stoi(e.port) > 65535)))
    return refused("has a port that is not a number from 1 to 65535");
  if (e.scheme == "ipmi" && !e.path.empty()) return refused("ipmi:// takes no path");
  if (!e.path.empty() && e.path.back() == '/') return refused("must not end with '/'");
  return e;
}

bool endpoint_policy::matches_pattern(const std::string& host) const {
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::string& p) { return glob(p.c_str(), host.c_str()); });
}

bool endpoint_policy::inside_cidr(const sockaddr* sa) const {
  auto a = address_of(sa);
  return std::any_of(cidrs_.begin(), cidrs_.end(), [&](const cidr& c) {
    if (c.family != a.family) return false;
    int full = c.bits / 8, rest = c.bits % 8;
    if (std::memcmp(c.bytes, a.bytes, static_cast<std::size_t>(full)) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (c.bytes[full] & mask) == (a.bytes[full] & mask);
  });
}

caf::error endpoint_policy::check_address(const std::string& host, const sockaddr* sa) const {
  auto a = address_of(sa);
  if (auto why = never(a); !why.empty()) return refused("host " + host + " is " + why);
  if (!options_.allow_loopback) {
    if (loopback(a))
      return refused("host " + host +
                     " is a loopback address (a node allows it only with bmc-allow-loopback)");
    if (own(a))
      return refused("host " + host +
                     " is an address of this node (allowed only with bmc-allow-loopback)");
  }
  if (!options_.networks.empty() && !matches_pattern(host) && !inside_cidr(sa))
    return refused("host " + host + " is outside the site's BMC networks");
  return {};
}

caf::expected<std::string> endpoint_policy::resolve(const std::string& host) const {
  auto found = lookup(host);
  if (found.empty()) return make_error(errc::unavailable, "BMC host " + host + " does not resolve");
  for (const auto& s : found)
    if (auto err = check_address(host, reinterpret_cast<const sockaddr*>(&s))) return err;
  return numeric(found.front());
}

caf::error endpoint_policy::check(const std::string& endpoint) const {
  auto e = parse(endpoint);
  if (!e) return std::move(e.error());
  auto found = lookup(e->host);
  if (found.empty()) {
    if (options_.networks.empty() || matches_pattern(e->host)) return {};
    return refused("host " + e->host +
                   " does not resolve, so it cannot be shown inside the site's BMC networks");
  }
  for (const auto& s : found)
    if (auto err = check_address(e->host, reinterpret_cast<const sockaddr*>(&s))) return err;
  return {};
}

}  // namespace ab::bmc
