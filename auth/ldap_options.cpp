// Checks of ldap_options (declared in ldap_directory.hpp): every mistake an operator can make
// in them is reported at start-up, naming the option.

#include <unistd.h>

#include <cctype>
#include <sstream>

#include <ldap.h>

#include "auth/ldap_directory.hpp"
#include "auth/ldap_names.hpp"
#include "core/error.hpp"

namespace ab::auth {

namespace {

caf::error bad(const std::string& option, const std::string& what) {
  return make_error(errc::bad_config, "ldap option '" + option + "' " + what);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The scheme of `url` in lower case, or an empty string if libldap cannot parse it.
std::string scheme_of(const std::string& url) {
  LDAPURLDesc* desc = nullptr;
  if (ldap_url_parse(url.c_str(), &desc) != LDAP_URL_SUCCESS) return {};
  std::string scheme = desc->lud_scheme ? lower(desc->lud_scheme) : "";
  ldap_free_urldesc(desc);
  return scheme;
}

caf::error check_url(const std::string& url, const ldap_options& o) {
  auto scheme = scheme_of(url);
  if (scheme == "ldaps") {
    if (o.start_tls) return bad("start_tls", "cannot be used with " + url + " (already TLS)");
    return {};
  }
  if (scheme != "ldap")
    return bad("url", "has '" + url + "'; expected ldap://HOST or ldaps://HOST");
  if (!o.start_tls && !o.allow_plaintext)
    return bad("url", "has " + url + ", which would carry passwords in clear text; use ldaps://, " +
                          "start_tls, or allow_plaintext for a test directory");
  return {};
}

caf::error check_urls(const ldap_options& o) {
  std::istringstream in{o.url};
  int count = 0;
  for (std::string url; in >> url; ++count)
    if (auto err = check_url(url, o)) return err;
  if (count == 0) return bad("url", "is required (ldap://HOST or ldaps://HOST)");
  return {};
}

bool parenthesized(const std::string& filter) {
  return filter.size() >= 2 && filter.front() == '(' && filter.back() == ')';
}

caf::error check_bind_template(const ldap_options& o) {
  const auto& t = o.bind_template;
  if (t.find("{user}") == std::string::npos)
    return bad("bind_template", "must contain {user}, e.g. uid={user},ou=people,dc=example,dc=org");
  if (is_dn_template(t) && !is_dn(bind_name(t, "user")))
    return bad("bind_template", "'" + t + "' is not a DN once {user} is filled in");
  if (!is_dn_template(t) && o.user_search_base.empty())
    return bad("user_search_base",
               "is required with the non-DN bind_template '" + t + "', to find the person's entry");
  return {};
}

caf::error check_user_search(const ldap_options& o) {
  if (o.user_search_base.empty()) return {};
  if (!is_dn(o.user_search_base)) return bad("user_search_base", "is not a DN");
  if (!parenthesized(o.user_search_filter) ||
      o.user_search_filter.find("{user}") == std::string::npos)
    return bad("user_search_filter", "must be a filter in parentheses with {user}");
  return {};
}

caf::error check_group_search(const ldap_options& o) {
  if (o.group_search_base.empty()) return {};
  if (!is_dn(o.group_search_base)) return bad("group_search_base", "is not a DN");
  const auto& f = o.group_search_filter;
  if (!f.empty() && (!parenthesized(f) || (f.find("{user}") == std::string::npos &&
                                           f.find("{dn}") == std::string::npos)))
    return bad("group_search_filter", "must be a filter in parentheses with {dn} or {user}");
  if (o.group_name_attribute.empty()) return bad("group_name_attribute", "is required");
  return {};
}

caf::error check_transport(const ldap_options& o) {
  if (o.network_timeout.count() <= 0) return bad("network_timeout", "must be positive");
  if (o.operation_timeout.count() <= 0) return bad("operation_timeout", "must be positive");
  if (!o.ca_file.empty() && ::access(o.ca_file.c_str(), R_OK) != 0)
    return bad("ca_file", "names '" + o.ca_file + "', which cannot be read");
  return {};
}

}  // namespace

caf::error validate(const ldap_options& options) {
  for (auto check :
       {check_urls, check_bind_template, check_user_search, check_group_search, check_transport})
    if (auto err = check(options)) return err;
  return {};
}

}  // namespace ab::auth
