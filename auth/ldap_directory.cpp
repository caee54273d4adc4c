#include "auth/ldap_directory.hpp"

#include <algorithm>

#include <ldap.h>
#include <spdlog/spdlog.h>

#include "auth/detail/ldap_session.hpp"
#include "auth/ldap_names.hpp"
#include "core/error.hpp"

namespace ab::auth {

namespace {

using detail::ldap_entry;
using detail::ldap_session;
using detail::ldap_status;

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("auth");
  return log ? log : spdlog::default_logger()->clone("auth");
}

/// The one answer to every refused login, so that callers learn nothing about which part
/// was wrong; the reason goes to the debug log (never the password).
caf::error refused(const std::string& why) {
  logger()->debug("directory login refused: {}", why);
  return make_error(errc::unauthenticated, "login failed: unknown login or wrong password");
}

caf::error unavailable(const ldap_options& o, const std::string& step, const ldap_status& s) {
  return make_error(errc::unavailable, "directory " + o.url + ": " + step + " failed: " + s.reason);
}

/// Result codes of a bind that mean "not this person", as opposed to a directory problem.
bool login_refused(int code) {
  switch (code) {
    case LDAP_INVALID_CREDENTIALS:   // wrong password or unknown entry (AD: also locked)
    case LDAP_INVALID_DN_SYNTAX:     // the login made no valid name
    case LDAP_NO_SUCH_OBJECT:        // some servers report unknown entries so
    case LDAP_INAPPROPRIATE_AUTH:    // the entry has no password
    case LDAP_UNWILLING_TO_PERFORM:  // e.g. a disabled account, or a password to change
    case LDAP_CONSTRAINT_VIOLATION:  // password policy: locked
    case LDAP_INSUFFICIENT_ACCESS:
      return true;
    default:
      return false;
  }
}

caf::error search_failed(const ldap_options& o, const std::string& base, const ldap_status& s) {
  if (s.code == LDAP_FILTER_ERROR)
    return make_error(errc::bad_config, "directory " + o.url + ": a search filter under '" + base +
                                            "' is invalid: " + s.reason);
  return unavailable(o, "search of '" + base + "'", s);
}

/// The person's entry with its login and memberOf values: found by the user search, or read
/// at the bind DN (so that the DN is spelled as the directory spells it).
caf::expected<ldap_entry> find_person(ldap_session& session, const ldap_options& o,
                                      const std::string& login, const std::string& bind_dn) {
  detail::search_request request;
  if (o.read_member_of) request.attributes.emplace_back("memberOf");
  if (!o.login_attribute.empty()) request.attributes.push_back(o.login_attribute);
  if (o.user_search_base.empty()) {
    request.base = bind_dn;
    request.subtree = false;
  } else {
    request.base = o.user_search_base;
    request.filter = expand(o.user_search_filter, {{"{user}", escape_filter_value(login)}});
  }
  // Two at most: enough to tell that a login is ambiguous.
  request.size_limit = 2;
  auto found = session.search(request);
  if (found.status.code == LDAP_SIZELIMIT_EXCEEDED || found.entries.size() > 1)
    return refused("login '" + login + "' matches several entries");
  // A bind DN without an entry (a proxy or alias bind) is not a person; a user search base
  // that does not exist is a configuration problem.
  bool no_entry = found.status.code == LDAP_NO_SUCH_OBJECT && !request.subtree;
  if (!found.status.ok() && !no_entry) return search_failed(o, request.base, found.status);
  if (found.entries.empty()) return refused("login '" + login + "' has no entry it may read");
  return std::move(found.entries.front());
}

/// The first value of `attribute` in `entry`, or `fallback`.
std::string first_value(const ldap_entry& entry, const std::string& attribute,
                        const std::string& fallback) {
  auto it = entry.values.find(attribute);
  return it == entry.values.end() || it->second.empty() ? fallback : it->second.front();
}

/// Group names from the entry's memberOf values, within the group base if one is set.
std::vector<std::string> member_of_groups(const ldap_options& o, const ldap_entry& person) {
  std::vector<std::string> out;
  auto it = person.values.find("memberOf");
  if (it == person.values.end()) return out;
  for (const auto& dn : it->second) {
    if (!o.group_search_base.empty() && !dn_within(dn, o.group_search_base)) continue;
    if (auto name = first_rdn_value(dn); !name.empty()) out.push_back(std::move(name));
  }
  return out;
}

/// Group names found by the group search.
caf::expected<std::vector<std::string>> searched_groups(ldap_session& session,
                                                        const ldap_options& o,
                                                        const std::string& login,
                                                        const ldap_entry& person) {
  detail::search_request request;
  request.base = o.group_search_base;
  request.attributes = {o.group_name_attribute};
  request.filter = expand(o.group_search_filter, {{"{user}", escape_filter_value(login)},
                                                  {"{dn}", escape_filter_value(person.dn)}});
  auto found = session.search(request);
  if (!found.status.ok()) return search_failed(o, request.base, found.status);
  std::vector<std::string> out;
  for (const auto& group : found.entries) {
    auto name = first_value(group, o.group_name_attribute, first_rdn_value(group.dn));
    if (!name.empty()) out.push_back(std::move(name));
  }
  return out;
}

caf::expected<std::vector<std::string>> groups_of(ldap_session& session, const ldap_options& o,
                                                  const std::string& login,
                                                  const ldap_entry& person) {
  auto groups = member_of_groups(o, person);
  if (!o.group_search_base.empty() && !o.group_search_filter.empty()) {
    auto found = searched_groups(session, o, login, person);
    if (!found) return found.error();
    groups.insert(groups.end(), found->begin(), found->end());
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

}  // namespace

ldap_directory::ldap_directory(ldap_options options)
    : options_(std::move(options)), config_error_(validate(options_)) {}

caf::expected<directory_user> ldap_directory::authenticate(const std::string& login,
                                                           const std::string& password) const {
  if (config_error_) return config_error_;
  // An empty password would make a simple bind "unauthenticated" and succeed (RFC 4513 5.1.2).
  if (password.empty()) return refused("empty password");
  if (auto problem = login_problem(login, options_.bind_template); !problem.empty())
    return refused(problem);
  auto name = bind_name(options_.bind_template, login);
  if (name.empty()) return refused("the login cannot be written into a DN");
  ldap_session session{options_};
  if (!session.status().ok()) return unavailable(options_, "connection set-up", session.status());
  if (options_.start_tls)
    if (auto s = session.start_tls(); !s.ok()) return unavailable(options_, "StartTLS", s);
  if (auto s = session.bind(name, password); !s.ok()) {
    if (login_refused(s.code)) return refused("bind as '" + name + "': " + s.reason);
    return unavailable(options_, "bind", s);
  }
  auto person = find_person(session, options_, login, name);
  if (!person) return person.error();
  auto groups = groups_of(session, options_, login, *person);
  if (!groups) return groups.error();
  return directory_user{first_value(*person, options_.login_attribute, login), person->dn,
                        std::move(*groups)};
}

}  // namespace ab::auth
