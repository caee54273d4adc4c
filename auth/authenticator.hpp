#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "auth/ldap_directory.hpp"
#include "auth/policy.hpp"

namespace ab::auth {

/// Checks a directory login (an LDAP simple bind, `ldap_directory::authenticate`) and returns
/// the person with their groups; blocking.
using directory_login = std::function<caf::expected<directory_user>(const std::string& login,
                                                                    const std::string& password)>;

/// Modification time, inode and size of a file: changes when the file is edited.
using file_signature = std::array<std::int64_t, 4>;

/// How a node authenticates and authorizes API callers.
struct authenticator_options {
  /// The policy file: accounts, group mappings, roles (docs/auth.md).
  std::string policy_file;
  /// Names the policy may use.
  vocabulary words;
  /// Directory logins (HTTP Basic); unset refuses them.
  directory_login directory;
  /// How long a successful directory login is remembered (keyed by a digest of the
  /// credentials), so that a person's burst of calls costs one bind.
  std::chrono::milliseconds login_cache_ttl{60000};
  /// How often the policy file is checked for changes; 0 = only on `reload`.
  std::chrono::milliseconds watch_interval{2000};
};

/// Turns an `Authorization` header into an identity and answers policy questions; the policy
/// is reloaded live (file change or `reload`), a bad edit keeps the last good policy.
/// Thread-safe.
class authenticator {
 public:
  /// Loads the policy (an error if it is missing or invalid) and starts watching it.
  static caf::expected<std::unique_ptr<authenticator>> open(authenticator_options options);

  ~authenticator();
  authenticator(const authenticator&) = delete;
  authenticator& operator=(const authenticator&) = delete;

  /// Reads the policy file again; on error keeps the current policy and returns the error.
  caf::error reload();

  /// True if `authorization` is a directory login not in the cache: authenticating it binds
  /// to the directory, so it belongs on a thread that may block.
  bool may_block(const std::string& authorization) const;

  /// Who sent the `Authorization` header value `authorization` (`Bearer TOKEN` for service
  /// accounts, `Basic …` for directory logins); `unauthenticated` when missing or wrong,
  /// `unavailable` when the directory cannot be reached.
  caf::expected<identity> authenticate(const std::string& authorization);

  /// Whether `who` may do `what` under the current policy.
  decision authorize(const identity& who, const operation& what) const;

  /// Where `who` may do `action` under the current policy (`read`: what it may see).
  scope scope_of(const identity& who, const std::string& action) const;

  /// The policy in force.
  std::shared_ptr<const policy> current() const;

 private:
  explicit authenticator(authenticator_options options);
  caf::expected<identity> login(const std::string& credentials);
  void watch();

  authenticator_options options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const policy> policy_;
  file_signature policy_mtime_{};
  /// Digest of login:password → (person, expiry).
  struct cached_login {
    directory_user user;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, cached_login> logins_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace ab::auth
