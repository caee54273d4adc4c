#pragma once

// Text rules of directory login: escaping, bind-name templates and DN comparison. Pure
// functions (no server), so they are tested table-driven without a directory.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ab::auth {

/// The longest login accepted, in bytes; longer ones are refused before any bind.
inline constexpr std::size_t max_login_bytes = 256;

/// `value` escaped as an attribute value inside a DN (RFC 4514) by libldap: `,+"\<>;=`, a
/// leading `#` or space and a trailing space become hex pairs (`,` is `\2C`). No value if
/// libldap cannot format it.
std::optional<std::string> escape_dn_value(std::string_view value);

/// `value` escaped for use inside a search filter (RFC 4515) by libldap: `*`, `(`, `)`, `\`
/// and NUL become `\2A`, `\28`, `\29`, `\5C` and `\00`.
std::string escape_filter_value(std::string_view value);

/// True if a bind-name template names a DN (it contains `=`), false for an Active
/// Directory user principal name (`{user}@corp.example.com`) or down-level name
/// (`CORP\{user}`).
bool is_dn_template(std::string_view bind_template);

/// `text` with every `{key}` of `values` replaced by its value in one pass, so a value
/// that itself contains a placeholder is never expanded again.
std::string expand(std::string_view text,
                   const std::vector<std::pair<std::string_view, std::string_view>>& values);

/// Why `login` cannot be used with `bind_template`, or an empty string if it can.
///
/// Every login must be 1 to `max_login_bytes` bytes without control characters. With a UPN
/// or down-level template a login must also be a name Active Directory could have: none of
/// `"/\[]:;|=,+*?<>@`, so it can name neither another realm nor a DN.
std::string login_problem(std::string_view login, std::string_view bind_template);

/// The name to bind as for `login`: `{user}` in `bind_template` replaced by the login, DN
/// escaped when the template is a DN. Empty if the login cannot be used (`login_problem`).
std::string bind_name(std::string_view bind_template, std::string_view login);

/// True if `dn` parses as an LDAPv3 distinguished name (the empty DN does not count).
bool is_dn(std::string_view dn);

/// The value of the first RDN of `dn`: `fleet-operators` for
/// `cn=fleet-operators,ou=groups,dc=example,dc=org`. Empty if `dn` is not a DN.
std::string first_rdn_value(std::string_view dn);

/// True if `dn` is `base` or lies below it. Compares parsed RDNs, ignoring ASCII case,
/// spacing and escaping differences, as directories compare names.
bool dn_within(std::string_view dn, std::string_view base);

}  // namespace ab::auth
