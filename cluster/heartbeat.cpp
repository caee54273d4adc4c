#include "cluster/heartbeat.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <system_error>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/release.hpp"
#include "core/site_name.hpp"

namespace ab::cluster {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_secret_size = 4096;
constexpr std::size_t signature_hex_size = 64;

caf::error bad_field(std::string_view field, std::string_view expected) {
  return make_error(errc::invalid_argument, "heartbeat field '" + std::string{field} +
                                                "': expected " + std::string{expected});
}

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// A name of letters, digits, `.`, `_` and `-` starting with a letter or digit (host-name
/// like: no whitespace, control characters or anything a log or a URL could misread).
bool valid_token(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && alnum(s.front()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

/// An `http://` or `https://` URL with a non-empty authority and no credentials in it.
bool valid_api_url(std::string_view url) {
  if (url.empty() || url.size() > max_api_url || !printable_ascii(url)) return false;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0)
    rest = url.substr(8);
  else if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else
    return false;
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  return !authority.empty() && authority.find('@') == std::string_view::npos &&
         authority.front() != ':';
}

std::string lower_hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

bool lower_hex_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

/// The int64 in `v`, or an error when `v` is not an integer JSON number that fits.
caf::expected<std::int64_t> int64_of(const json& v, std::string_view field) {
  if (!v.is_number_integer()) return bad_field(field, "an integer");
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return bad_field(field, "an integer within int64");
  return v.get<std::int64_t>();
}

caf::expected<std::string> string_of(const json& v, std::string_view field) {
  if (!v.is_string()) return bad_field(field, "a string");
  return v.get<std::string>();
}

caf::expected<json> parse_object(std::string_view body) {
  if (body.size() > max_body_size)
    return make_error(errc::invalid_argument,
                      "heartbeat body larger than " + std::to_string(max_body_size) + " bytes");
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(errc::invalid_argument, "heartbeat body is not a JSON object");
  return doc;
}

/// Reads every member of `doc` into a heartbeat: each known once, none missing, none unknown
/// (unless the heartbeat is of a newer protocol than this build's).
caf::expected<heartbeat> from_json(const json& doc) {
  heartbeat hb;
  unsigned seen = 0;
  // A newer node may announce more than this build knows: read its protocol first.
  bool newer = false;
  if (auto it = doc.find("protocol"); it != doc.end()) {
    auto n = int64_of(*it, "protocol");
    if (!n) return n.error();
    if (*n < 1 || *n > max_protocol) return bad_field("protocol", "1 to 65535");
    newer = *n > protocol_version;
  }
  for (const auto& [key, value] : doc.items()) {
    caf::error err;
    auto take_string = [&](std::string& into, unsigned bit) {
      auto s = string_of(value, key);
      if (!s) {
        err = s.error();
        return;
      }
      into = std::move(*s);
      seen |= bit;
    };
    auto take_int = [&](std::int64_t& into, unsigned bit) {
      auto n = int64_of(value, key);
      if (!n) {
        err = n.error();
        return;
      }
      into = *n;
      seen |= bit;
    };
    if (key == "node_id")
      take_string(hb.node_id, 1u << 0);
    else if (key == "site")
      take_string(hb.site, 1u << 1);
    else if (key == "site_id")
      take_int(hb.site_id, 1u << 2);
    else if (key == "cluster")
      take_string(hb.cluster, 1u << 3);
    else if (key == "api_url")
      take_string(hb.api_url, 1u << 4);
    else if (key == "load") {
      if (!value.is_number()) return bad_field(key, "a number from 0 to 1");
      hb.load = value.get<double>();
      seen |= 1u << 5;
    } else if (key == "api_in_flight")
      take_int(hb.api_in_flight, 1u << 6);
    else if (key == "version")
      take_string(hb.version, 1u << 7);
    else if (key == "sent_at_ms")
      take_int(hb.sent_at_ms, 1u << 8);
    else if (key == "protocol" || key == "protocol_min") {
      auto n = int64_of(value, key);
      if (!n) return n.error();
      if (*n < 1 || *n > max_protocol) return bad_field(key, "1 to 65535");
      (key == "protocol" ? hb.protocol_max : hb.protocol_min) = static_cast<int>(*n);
      seen |= key == "protocol" ? 1u << 9 : 1u << 10;
    } else if (key == "draining") {
      if (!value.is_boolean()) return bad_field(key, "true or false");
      hb.draining = value.get<bool>();
      seen |= 1u << 11;
    } else if (newer)
      continue;
    else
      return make_error(errc::invalid_argument,
                        "heartbeat has an unknown field (expected only "
                        "node_id, site, site_id, cluster, api_url, load, "
                        "api_in_flight, version, sent_at_ms, protocol, protocol_min, "
                        "draining)");
    if (err) return err;
  }
  static constexpr const char* names[] = {"node_id",       "site",    "site_id",
                                          "cluster",       "api_url", "load",
                                          "api_in_flight", "version", "sent_at_ms"};
  for (unsigned i = 0; i < std::size(names); ++i)
    if ((seen & (1u << i)) == 0)
      return make_error(errc::invalid_argument,
                        std::string{"heartbeat field '"} + names[i] + "' is missing");
  // Protocol 1 says nothing of protocols; protocol 2 names both ends of its range.
  auto protocol_members = seen & (3u << 9);
  if (protocol_members != 0 && protocol_members != (3u << 9))
    return make_error(errc::invalid_argument,
                      "heartbeat fields 'protocol' and 'protocol_min' come together");
  if (protocol_members == 0 && (seen & (1u << 11)) != 0)
    return bad_field("draining", "only with 'protocol' and 'protocol_min' (protocol 2)");
  if (auto err = check(hb)) return err;
  return hb;
}

caf::error secret_file_error(const std::string& path, const std::string& what) {
  return make_error(errc::bad_config, "heartbeat secret file " + path + ": " + what);
}

}  // namespace

caf::error check(const heartbeat& hb) {
  if (!valid_token(hb.node_id, max_node_id))
    return bad_field("node_id",
                     "1-253 letters, digits, '.', '_' or '-', starting with a letter "
                     "or digit");
  if (!valid_site_name(hb.site))
    return bad_field("site",
                     "1-63 lowercase letters, digits or '-', starting with a letter or "
                     "digit");
  if (hb.site_id < 0 || hb.site_id > max_site_id) return bad_field("site_id", "0 to 9000");
  if (!valid_token(hb.cluster, max_cluster_name))
    return bad_field("cluster",
                     "1-63 letters, digits, '.', '_' or '-', starting with a letter "
                     "or digit");
  if (!valid_api_url(hb.api_url))
    return bad_field("api_url",
                     "an http:// or https:// URL of at most 2048 printable characters, "
                     "without credentials");
  if (!std::isfinite(hb.load) || hb.load < 0 || hb.load > 1)
    return bad_field("load", "a number from 0 to 1");
  if (hb.api_in_flight < 0) return bad_field("api_in_flight", "an integer of at least 0");
  if (hb.version.empty() || hb.version.size() > max_version || !printable_ascii(hb.version))
    return bad_field("version", "1-64 printable ASCII characters");
  if (hb.sent_at_ms < 0) return bad_field("sent_at_ms", "milliseconds since the epoch");
  if (hb.protocol_max < 1 || hb.protocol_max > max_protocol)
    return bad_field("protocol", "1 to 65535");
  if (hb.protocol_min < 1 || hb.protocol_min > hb.protocol_max)
    return bad_field("protocol_min", "1 to the heartbeat's 'protocol'");
  if (hb.protocol_max < 2 && hb.draining)
    return bad_field("draining", "false for a protocol 1 heartbeat");
  return caf::none;
}

std::string encode(const heartbeat& hb) {
  json doc{{"node_id", hb.node_id},
           {"site", hb.site},
           {"site_id", hb.site_id},
           {"cluster", hb.cluster},
           {"api_url", hb.api_url},
           {"load", hb.load},
           {"api_in_flight", hb.api_in_flight},
           {"version", hb.version},
           {"sent_at_ms", hb.sent_at_ms}};
  // A protocol 1 node's heartbeat, as the routers before protocol 2 require it: nothing more.
  if (hb.protocol_max >= 2) {
    doc["protocol"] = hb.protocol_max;
    doc["protocol_min"] = hb.protocol_min;
    doc["draining"] = hb.draining;
  }
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

caf::expected<heartbeat> parse(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc) return doc.error();
  return from_json(*doc);
}

std::string sign(std::string_view body, std::int64_t sent_at_ms, std::string_view secret) {
  std::string message = std::to_string(sent_at_ms);
  message += '.';
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
  return std::string{signature_prefix} + lower_hex(mac, mac_size);
}

caf::expected<heartbeat> verify(std::string_view body, std::string_view signature_header,
                                std::string_view secret, std::int64_t now_ms,
                                std::int64_t max_skew_ms) {
  auto unauthenticated = [](std::string what) {
    return make_error(errc::unauthenticated, "heartbeat refused: " + std::move(what));
  };
  if (secret.empty()) return unauthenticated("no secret to check the signature with");
  if (signature_header.substr(0, signature_prefix.size()) != signature_prefix ||
      signature_header.size() != signature_prefix.size() + signature_hex_size ||
      !lower_hex_digits(signature_header.substr(signature_prefix.size())))
    return unauthenticated("no X-AB-Signature header of the form v1=<64 lowercase hex digits>");
  auto doc = parse_object(body);
  if (!doc) return doc.error();
  // The signed message starts with the sender's clock, so it is read before anything else.
  auto it = doc->find("sent_at_ms");
  if (it == doc->end()) return bad_field("sent_at_ms", "an integer (it is missing)");
  auto sent_at = int64_of(*it, "sent_at_ms");
  if (!sent_at) return sent_at.error();
  auto expected = sign(body, *sent_at, secret);
  if (CRYPTO_memcmp(expected.data(), signature_header.data(), expected.size()) != 0)
    return unauthenticated("bad signature");
  // Compared in 128 bits: a hostile clock near the int64 limits must not wrap around.
  auto skew = static_cast<__int128>(now_ms) - static_cast<__int128>(*sent_at);
  if (skew < 0) skew = -skew;
  if (skew > static_cast<__int128>(max_skew_ms))
    return unauthenticated("sent_at_ms is more than " + std::to_string(max_skew_ms) +
                           " ms from this clock");
  return from_json(*doc);
}

caf::expected<std::string> read_secret_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO put in the file's place must not hang start-up.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return secret_file_error(
        path, "cannot be opened: " + std::error_code{errno, std::generic_category()}.message());
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return secret_file_error(
        path, "cannot be examined: " + std::error_code{errno, std::generic_category()}.message());
  if (!S_ISREG(st.st_mode)) return secret_file_error(path, "is not a regular file");
  auto mode = st.st_mode & 07777;
  if ((mode & ~static_cast<mode_t>(0600)) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    return secret_file_error(
        path, std::string{"has mode "} + octal + "; it must be 600 or stricter: chmod 600 " + path);
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_secret_size)
    return secret_file_error(path, "is larger than 4 KiB");
  std::string secret;
  char buf[1024];
  while (secret.size() <= max_secret_size) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return secret_file_error(
          path, "cannot be read: " + std::error_code{errno, std::generic_category()}.message());
    if (n == 0) break;
    secret.append(buf, static_cast<std::size_t>(n));
  }
  // The file may have grown between fstat and read.
  if (secret.size() > max_secret_size) return secret_file_error(path, "is larger than 4 KiB");
  if (!secret.empty() && secret.back() == '\n') {
    secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  }
  if (secret.empty()) return secret_file_error(path, "is empty");
  return secret;
}

}  // namespace ab::cluster
