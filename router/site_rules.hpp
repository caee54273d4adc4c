#pragma once

// How the router tells where a host is when the inventory does not say: hostname rules, the
// site part of a request id, and a short cache of what the inventory said.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/clock.hpp"

namespace ab::router {

/// One hostname rule: a regular expression (ECMAScript, matched against the whole name) and
/// the site of the names it matches; with `site` empty the expression's first capture group
/// is the site.
struct hostname_rule {
  std::string pattern;
  std::string site;
};

/// The configured hostname rules, tried in order.
class hostname_rules {
 public:
  hostname_rules() = default;
  /// Compiles `rules`; a bad expression, one without a capture group where it needs one, or an
  /// invalid site name is an error naming the rule.
  static caf::expected<hostname_rules> make(std::vector<hostname_rule> rules);

  /// The site of `host` by the first rule that matches it with a valid site name.
  std::optional<std::string> site_of(const std::string& host) const;

  bool empty() const { return rules_.empty(); }

 private:
  std::vector<std::pair<std::regex, std::string>> rules_;
};

/// Request ids are `site_id * 10^12 + n`.
inline constexpr std::int64_t site_id_block = 1'000'000'000'000;

/// The site id of the request id `text` (digits only), or nullopt for something that is not
/// a request id.
std::optional<std::int64_t> site_id_of_request(const std::string& text);

/// What the inventory said lately: host → site, for a short time. Only hosts found are kept,
/// never an absence. Thread-safe.
class site_cache {
 public:
  site_cache(time_ms ttl_ms, std::size_t capacity, std::shared_ptr<const ab::clock> clock);

  std::optional<std::string> find(const std::string& host);
  void put(const std::string& host, const std::string& site);
  /// Forgets `host` (its site's node no longer knows it).
  void drop(const std::string& host);

 private:
  time_ms ttl_ms_;
  std::size_t capacity_;
  std::shared_ptr<const ab::clock> clock_;
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, mono_time>> entries_;
};

}  // namespace ab::router
