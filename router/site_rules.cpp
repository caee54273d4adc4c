#include "router/site_rules.hpp"

#include "core/error.hpp"
#include "net/api/codec.hpp"

namespace ab::router {

caf::expected<hostname_rules> hostname_rules::make(std::vector<hostname_rule> rules) {
  hostname_rules out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto& r = rules[i];
    auto where = "hostname rule " + std::to_string(i + 1) + " (" + r.pattern + ")";
    std::regex re;
    try {
      re = std::regex(r.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return make_error(errc::bad_config, where + ": not a valid regular expression: " + e.what());
    }
    if (r.site.empty() && re.mark_count() < 1)
      return make_error(errc::bad_config,
                        where + ": needs a capture group naming the site, or a site");
    if (!r.site.empty() && !net::valid_site_name(r.site))
      return make_error(errc::bad_config, where + ": '" + r.site + "' is not a valid site name");
    out.rules_.emplace_back(std::move(re), r.site);
  }
  return out;
}

std::optional<std::string> hostname_rules::site_of(const std::string& host) const {
  for (const auto& [re, site] : rules_) {
    std::smatch m;
    if (!std::regex_match(host, m, re)) continue;
    if (!site.empty()) return site;
    auto captured = m[1].str();
    if (net::valid_site_name(captured)) return captured;
  }
  return std::nullopt;
}

std::optional<std::int64_t> site_id_of_request(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(text) / site_id_block;
}

site_cache::site_cache(time_ms ttl_ms, std::size_t capacity, std::shared_ptr<const ab::clock> clock)
    : ttl_ms_(ttl_ms), capacity_(capacity), clock_(std::move(clock)) {}

std::optional<std::string> site_cache::find(const std::string& host) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = entries_.find(host);
  if (it == entries_.end()) return std::nullopt;
  if (clock_->monotonic() - it->second.second > std::chrono::milliseconds(ttl_ms_)) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.first;
}

void site_cache::put(const std::string& host, const std::string& site) {
  if (ttl_ms_ <= 0) return;
  std::lock_guard<std::mutex> guard{mutex_};
  auto now = clock_->monotonic();
  if (entries_.size() >= capacity_) {
    // Full: what has expired goes; if nothing has, everything (it refills from the nodes).
    for (auto it = entries_.begin(); it != entries_.end();)
      it = now - it->second.second > std::chrono::milliseconds(ttl_ms_) ? entries_.erase(it)
                                                                        : std::next(it);
    if (entries_.size() >= capacity_) entries_.clear();
  }
  entries_[host] = {site, now};
}

void site_cache::drop(const std::string& host) {
  std::lock_guard<std::mutex> guard{mutex_};
  entries_.erase(host);
}

}  // namespace ab::router
