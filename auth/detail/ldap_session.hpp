#pragma once

// One LDAP connection as a small C++ object over libldap's synchronous API.

#include <sys/time.h>

#include <map>
#include <string>
#include <vector>

#include <ldap.h>

#include "auth/detail/connection_guard.hpp"
#include "auth/ldap_directory.hpp"

namespace ab::auth::detail {

/// The outcome of one LDAP step: libldap's result code and, on failure, its reason.
struct ldap_status {
  /// An `LDAP_*` result code; `LDAP_SUCCESS` (0) when the step worked.
  int code = 0;
  /// libldap's sentence for the code and the server's diagnostic message, if any.
  std::string reason;

  /// True if the step worked.
  bool ok() const { return code == 0; }
};

/// A search for entries and the values of some of their attributes.
struct search_request {
  /// Where to search.
  std::string base;
  /// The whole subtree below `base` if true, only `base` itself if false.
  bool subtree = true;
  /// The filter, already escaped.
  std::string filter = "(objectClass=*)";
  /// The attributes whose values to return; empty: none.
  std::vector<std::string> attributes;
  /// How many entries at most; 0: the server's limit.
  int size_limit = 0;
};

/// One entry found by a search.
struct ldap_entry {
  /// The entry's DN as the server wrote it.
  std::string dn;
  /// The values of each requested attribute, by the name it was requested with; an
  /// attribute the entry lacks (or hides) is missing.
  std::map<std::string, std::vector<std::string>> values;
};

/// What a search returned; `status.code` may be `LDAP_SIZELIMIT_EXCEEDED` with entries.
struct search_result {
  /// How the search ended.
  ldap_status status;
  /// The entries received.
  std::vector<ldap_entry> entries;
};

/// One connection to a directory, closed (unbind) by the destructor. Not thread-safe: use
/// one per login, in one thread.
///
/// A session lasts at most `network_timeout` per URL plus `operation_timeout`: then its
/// socket is cut and every step fails with `LDAP_TIMEOUT`. SIGPIPE is blocked in the
/// thread while the session lives.
class ldap_session {
 public:
  /// A connection to `options.url` with protocol version 3, the timeouts, no referral
  /// chasing and, for TLS, verified certificates. Nothing is sent yet: the TCP connection
  /// opens on the first operation. `status()` tells whether the options could be set.
  explicit ldap_session(const ldap_options& options);
  ~ldap_session();
  ldap_session(const ldap_session&) = delete;
  ldap_session& operator=(const ldap_session&) = delete;

  /// Whether the connection could be prepared.
  const ldap_status& status() const { return status_; }

  /// Upgrades the connection with StartTLS.
  ldap_status start_tls();

  /// A simple bind as `name` with `password`.
  ldap_status bind(const std::string& name, const std::string& password);

  /// Runs `request` as whoever is bound.
  search_result search(const search_request& request);

 private:
  ldap_status configure(const ldap_options& options);
  ldap_status failure(int code) const;

  sigpipe_block no_sigpipe_;
  connection_guard guard_;
  ldap_conncb on_connect_{};
  LDAP* ld_ = nullptr;
  bool tls_ = false;
  std::chrono::milliseconds operation_limit_;
  timeval operation_timeout_{};
  ldap_status status_;
};

}  // namespace ab::auth::detail
