#pragma once

// Directory login for people: an LDAP simple bind as the person against Active Directory or
// any LDAP server, then the person's groups read from the directory as that person.

#include <chrono>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ab::auth {

/// How to reach a directory and how to find a person and their groups in it.
///
/// Placeholders: `{user}` is the login as typed, `{dn}` the person's entry; each is escaped
/// for where it stands (RFC 4514 in a DN, RFC 4515 in a filter).
struct ldap_options {
  /// One `ldap://` or `ldaps://` URL, or several separated by spaces, tried in order.
  /// Required.
  std::string url;

  /// The name to bind as, formed from the login. Required. A DN
  /// (`uid={user},ou=people,dc=example,dc=org`), an Active Directory user principal name
  /// (`{user}@corp.example.com`) or a down-level name (`CORP\{user}`); the last two need
  /// `user_search_base` to find the person's entry.
  std::string bind_template;

  /// Where to search for the person's entry after the bind; empty (default): the entry is
  /// read at the bind DN. A login that finds no entry it may read, or several, is refused.
  std::string user_search_base;

  /// The filter of that search; `(sAMAccountName={user})` for Active Directory.
  std::string user_search_filter = "(uid={user})";

  /// The attribute of the person's entry that holds their login as the directory spells it:
  /// `uid` (default), `sAMAccountName` for Active Directory. Directories match logins
  /// ignoring case and surrounding spaces, so `directory_user::login` is taken from here;
  /// empty, or missing in the entry: the login as given.
  std::string login_attribute = "uid";

  /// Whether to take groups from the entry's `memberOf` attribute (Active Directory, the
  /// OpenLDAP memberof overlay). Default true.
  bool read_member_of = true;

  /// Where groups live; empty (default): no group search, and `memberOf` groups count
  /// wherever they are. When set, only groups at or below it count.
  std::string group_search_base;

  /// The filter of the group search (runs when `group_search_base` is set; empty: no
  /// search). The default matches `groupOfNames`, `groupOfUniqueNames` and `posixGroup`.
  std::string group_search_filter = "(|(member={dn})(uniqueMember={dn})(memberUid={user}))";

  /// The attribute of a group entry that names it; a `memberOf` group is named by the value
  /// of its first RDN. Default `cn`.
  std::string group_name_attribute = "cn";

  /// How long to wait for the TCP connection to each URL. Default 5 s.
  std::chrono::milliseconds network_timeout{5000};

  /// How long the exchange after connecting may take, each step and all together: TLS
  /// handshake, StartTLS, bind, searches. Also sent as the server's search time limit.
  /// Default 10 s. A login never takes longer than `network_timeout` per URL tried plus
  /// this: then its connection is cut and the directory counts as unavailable.
  std::chrono::milliseconds operation_timeout{10000};

  /// PEM file of the certificate authorities to trust; empty (default): libldap's default
  /// (`TLS_CACERT` of ldap.conf, on Debian the system store). Certificates are always
  /// verified.
  std::string ca_file;

  /// Whether to upgrade `ldap://` connections with StartTLS before the bind. Default false.
  bool start_tls = false;

  /// Whether `ldap://` without StartTLS may carry passwords in clear text. Default false:
  /// such options are refused; set it only for a test directory on loopback.
  bool allow_plaintext = false;
};

/// A person the directory vouched for.
struct directory_user {
  /// The login as the directory spells it (`ldap_options::login_attribute`).
  std::string login;
  /// The person's entry, as the directory spells it.
  std::string dn;
  /// Names of the person's groups, sorted, without duplicates; empty if none.
  std::vector<std::string> groups;
};

/// Why `options` cannot work (an `errc::bad_config` error naming the option), or no error.
/// For checking configuration at start-up; `ldap_directory` checks again.
caf::error validate(const ldap_options& options);

/// Checks logins and passwords against an LDAP directory; thread-safe, blocking.
class ldap_directory {
 public:
  /// A directory reached with `options`; bad options make every `authenticate` fail.
  explicit ldap_directory(ldap_options options);

  /// The person `login` is, with their groups, if `password` is theirs.
  ///
  /// Opens one connection per call (StartTLS when configured), binds as the person with a
  /// simple bind, searches as the person, and always closes the connection. Errors:
  /// `errc::unauthenticated` for a wrong password, an unknown or refused login or an empty
  /// password, with one sentence that does not say which; `errc::unavailable` when the
  /// directory cannot be reached, answers too late or TLS fails, naming the URL and
  /// libldap's reason; `errc::bad_config` for bad options.
  caf::expected<directory_user> authenticate(const std::string& login,
                                             const std::string& password) const;

  /// The options this directory was made with.
  const ldap_options& options() const { return options_; }

 private:
  ldap_options options_;
  caf::error config_error_;
};

}  // namespace ab::auth
