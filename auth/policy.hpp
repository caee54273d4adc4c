#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace ab::auth {

/// Who is calling, once authenticated.
struct identity {
  /// Service account name or directory login; `anonymous` when the API is open.
  std::string name;
  /// How the caller proved it: `token`, `directory`, or `none` when the API is open.
  std::string method;
  /// Roles from the account, or from the caller's directory groups.
  std::vector<std::string> roles;
  /// A MaaS-type service account: the only kind that may submit with the `maas` class.
  bool maas = false;
};

/// One thing a caller asks to do, as the policy sees it.
struct operation {
  /// A lifecycle action (`reimage`, `wipe`, …) or an API permission: `read`, `cancel`,
  /// `hosts.write`, `audit.read`, `cluster.read`, `cluster.write`, `metrics.read`.
  std::string action;
  /// Site and host the operation touches; empty when it names none (then any grant of the
  /// action matches on that dimension).
  std::string site;
  std::string host;
  /// Priority class of a submission; empty for other operations.
  std::string priority_class;
};

/// The policy's answer; `reason` says why not, for the caller and the audit trail.
struct decision {
  bool allowed = false;
  std::string reason;
};

/// The API permissions a grant may name besides lifecycle actions.
const std::vector<std::string>& api_permissions();

/// Names a policy may use: the node's lifecycle actions and priority classes.
struct vocabulary {
  std::vector<std::string> actions;
  std::vector<std::string> classes;
};

/// A service account: a bearer token (kept as its SHA-256) and the roles it carries.
struct account {
  std::string name;
  std::string token_sha256;
  std::vector<std::string> roles;
  /// `"type": "maas"` in the policy file.
  bool maas = false;
};

/// Part of what a role allows: every combination of the listed actions, sites, host name
/// patterns and priority classes (shell-style globs, `*` and `?`).
struct grant {
  std::vector<std::string> actions;
  std::vector<std::string> sites{"*"};
  std::vector<std::string> hosts{"*"};
  std::vector<std::string> classes{"*"};
};

/// Where one action is allowed for one caller: the (sites, hosts) patterns of every grant of
/// its roles that names the action. Answers "may it act on host H at site S" without the
/// policy, and says which sites a listing may be narrowed to in the store.
class scope {
 public:
  /// One grant's reach: a host is in it when its site matches one of `sites` and its name
  /// one of `hosts` (shell-style patterns).
  struct reach {
    std::vector<std::string> sites;
    std::vector<std::string> hosts;
  };

  scope() = default;
  explicit scope(std::vector<reach> grants) : grants_(std::move(grants)) {}
  /// A scope that covers every site and host (the open API).
  static scope everything() { return scope{{reach{{"*"}, {"*"}}}}; }

  /// True if some grant covers host `host` at site `site`.
  bool covers(const std::string& site, const std::string& host) const;
  /// True if some grant covers some host of `site`.
  bool covers_site(const std::string& site) const;
  /// True if some grant covers every site and every host.
  bool covers_all() const;
  /// True if no grant names the action at all.
  bool empty() const { return grants_.empty(); }
  /// The literal sites the grants are limited to, when every grant lists only literal site
  /// names (no patterns); nullopt when some grant reaches sites by a pattern (`*`, `dc?`).
  std::optional<std::vector<std::string>> sites() const;
  /// True when every grant covers every host name of its sites (`hosts` of `*`): a listing
  /// narrowed by `sites()` needs no further filtering.
  bool all_hosts() const;

 private:
  std::vector<reach> grants_;
};

/// The caps of one role on destructive actions (`lifecycle::destructive`); unset: no cap.
struct role_quota {
  /// The most hosts one call may name.
  std::optional<std::int64_t> hosts_per_call;
  /// The most hosts the caller may act on within an hour (counted in the site database).
  std::optional<std::int64_t> hosts_per_hour;
};

/// A caller's caps on one destructive action: of the caller's roles whose grants name the
/// action, the most generous (a role without a cap leaves that dimension uncapped). `role_*`
/// name the role a cap comes from, for the refusal.
struct caller_limits {
  std::optional<std::int64_t> hosts_per_call, hosts_per_hour;
  std::string per_call_role, per_hour_role;
};

/// Who may do what: service accounts, directory groups mapped to roles, and the grants of
/// each role. Anything no grant allows is denied. Immutable once parsed.
class policy {
 public:
  /// Parses and checks a policy document (format in docs/auth.md): unknown fields, actions,
  /// classes and roles, and malformed token digests are errors naming `source` and the place.
  static caf::expected<policy> parse(const std::string& text, const vocabulary& words,
                                     const std::string& source = "policy");

  /// Reads and parses the file at `path`.
  static caf::expected<policy> load(const std::string& path, const vocabulary& words);

  /// The account whose token has the SHA-256 digest `token_sha256` (hex), or null.
  const account* find_account(const std::string& token_sha256) const;

  /// Roles that members of `groups` hold (group names compare case-insensitively).
  std::vector<std::string> roles_of_groups(const std::vector<std::string>& groups) const;

  /// Whether `who` may do `what`.
  decision allows(const struct identity& who, const operation& what) const;

  /// Where `who` may do `action` (a lifecycle action or an API permission such as `read`);
  /// an empty `action` gives the reach of all its grants, whatever they allow.
  scope scope_of(const struct identity& who, const std::string& action) const;

  /// The caps of `who` on the destructive action `action` (`quotas` in the policy file).
  caller_limits limits_of(const struct identity& who, const std::string& action) const;

  /// A destructive call on more hosts than this must confirm its host count
  /// (`confirm_above` in the policy file; `lifecycle::default_confirm_above` unless set).
  std::int64_t confirm_above() const { return confirm_above_; }

  /// Number of accounts, group mappings and roles, for logs.
  std::size_t accounts() const { return accounts_.size(); }
  std::size_t groups() const { return groups_.size(); }
  std::size_t roles() const { return roles_.size(); }

 private:
  std::map<std::string, account> accounts_;
  std::map<std::string, std::vector<std::string>> groups_;
  std::map<std::string, std::vector<grant>> roles_;
  std::map<std::string, role_quota> quotas_;
  std::int64_t confirm_above_ = 10;
};

}  // namespace ab::auth
