// Fuzzes the query strings of the REST API: `parse_query` and `parse_request_query` (the
// filters of `GET /v1/requests`). Beyond not crashing, an accepted query must parse to the
// same result when encoded back, and a refused one must be refused with a well-formed 4xx.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "net/api/codec.hpp"

namespace {

using ab::fuzz::require;
using ab::fuzz::require_client_error;
namespace net = ab::net;
namespace storage = ab::storage;

/// `s` with every byte but the unreserved ones percent-encoded.
std::string percent_encode(const std::string& s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string encode_query(const std::map<std::string, std::string>& fields) {
  std::string out;
  for (const auto& [key, value] : fields)
    out += (out.empty() ? "" : "&") + percent_encode(key) + "=" + percent_encode(value);
  return out;
}

/// The query that asks for `f`, naming only the fields that differ from the defaults.
std::map<std::string, std::string> filter_fields(const storage::request_filter& f) {
  std::map<std::string, std::string> out{{"limit", std::to_string(f.limit)}};
  if (f.state) out["state"] = storage::to_string(*f.state);
  if (!f.host.empty()) out["host"] = f.host;
  if (!f.action.empty()) out["action"] = f.action;
  if (!f.site.empty()) out["site"] = f.site;
  if (f.since != 0) out["since"] = std::to_string(f.since);
  if (f.before != 0) out["cursor"] = std::to_string(f.before);
  return out;
}

bool same_filter(const storage::request_filter& a, const storage::request_filter& b) {
  return a.state == b.state && a.host == b.host && a.action == b.action && a.site == b.site &&
         a.since == b.since && a.before == b.before && a.limit == b.limit;
}

/// Checks `parse_query`; true if it accepted `query`.
bool fuzz_parse_query(const std::string& query) {
  auto r = net::parse_query(query);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(*e, {"malformed_query"});
    require(query.find('%') != std::string::npos, "only a bad escape makes a query malformed");
    return false;
  }
  const auto& fields = std::get<std::map<std::string, std::string>>(r);
  auto again = net::parse_query(encode_query(fields));
  const auto* same = std::get_if<std::map<std::string, std::string>>(&again);
  require(same != nullptr && *same == fields, "a re-encoded query parses to the same fields");
  return true;
}

void fuzz_request_query(const std::string& query, bool well_formed) {
  auto r = net::parse_request_query(query);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(*e, {"malformed_query", "invalid_parameter", "unknown_parameter"});
    require(well_formed == (e->code != "malformed_query"),
            "a filter is malformed exactly when its query is");
    return;
  }
  require(well_formed, "a malformed query yields no filter");
  const auto& f = std::get<storage::request_filter>(r);
  require(f.limit >= 1 && f.limit <= 1000, "a filter's limit is 1-1000");
  require(f.since >= 0 && f.before >= 0, "a filter's times and cursor are not negative");
  require(f.host.empty() || net::valid_host_name(f.host), "a filter's host is a valid name");
  require(f.site.empty() || net::valid_site_name(f.site), "a filter's site is a valid name");
  auto again = net::parse_request_query(encode_query(filter_fields(f)));
  const auto* same = std::get_if<storage::request_filter>(&again);
  require(same != nullptr && same_filter(*same, f), "a re-encoded filter parses to the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string query(reinterpret_cast<const char*>(data), size);
  fuzz_request_query(query, fuzz_parse_query(query));
  return 0;
}
