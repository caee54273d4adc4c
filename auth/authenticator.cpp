#include "auth/authenticator.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "auth/token.hpp"
#include "core/error.hpp"

namespace ab::auth {

namespace {

/// Most remembered directory logins; beyond it expired ones are dropped, then all.
constexpr std::size_t login_cache_limit = 10000;

/// What tells that a file changed: its modification time has the kernel's coarse clock
/// resolution, so the inode (a new one for an edit saved by rename) and the size count too.
file_signature signature_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_mtim.tv_sec, st.st_mtim.tv_nsec, static_cast<std::int64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_size)};
}

/// Splits `Scheme credentials`; the scheme is returned lower-cased (RFC 7235: case-insensitive).
std::pair<std::string, std::string> split_scheme(const std::string& header) {
  auto space = header.find(' ');
  if (space == std::string::npos) return {};
  std::string scheme = header.substr(0, space);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto start = header.find_first_not_of(' ', space);
  auto rest = start == std::string::npos ? std::string{} : header.substr(start);
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  return {scheme, rest};
}

/// Decodes standard base64 (with padding); nullopt when malformed.
std::optional<std::string> base64_decode(const std::string& in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  if (in.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
      std::string::npos)
    return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  auto padding = in.size() - in.find_last_not_of('=') - 1;
  if (padding > 2) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

caf::error refused(const std::string& why) {
  return make_error(errc::unauthenticated, why);
}

}  // namespace

authenticator::authenticator(authenticator_options options) : options_(std::move(options)) {}

caf::expected<std::unique_ptr<authenticator>> authenticator::open(authenticator_options options) {
  std::unique_ptr<authenticator> a{new authenticator(std::move(options))};
  if (auto err = a->reload()) return err;
  if (a->options_.watch_interval.count() > 0)
    a->watcher_ = std::thread([p = a.get()] { p->watch(); });
  return a;
}

authenticator::~authenticator() {
  {
    std::lock_guard lock{mutex_};
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

caf::error authenticator::reload() {
  auto mtime = signature_of(options_.policy_file);
  auto p = policy::load(options_.policy_file, options_.words);
  if (!p) return p.error();
  auto fresh = std::make_shared<const policy>(std::move(*p));
  std::lock_guard lock{mutex_};
  policy_ = std::move(fresh);
  policy_mtime_ = mtime;
  return {};
}

void authenticator::watch() {
  std::unique_lock lock{mutex_};
  while (!stop_cv_.wait_for(lock, options_.watch_interval, [this] { return stopping_; })) {
    auto known = policy_mtime_;
    lock.unlock();
    auto now = signature_of(options_.policy_file);
    if (now != known) {
      if (auto err = reload()) {
        spdlog::error("policy {} changed but is refused, the last good policy stays: {}",
                      options_.policy_file, message_of(err));
        lock.lock();
        policy_mtime_ = now;  // Complain once per edit, not on every check.
        continue;
      }
      auto p = current();
      spdlog::info("policy {} reloaded: {} accounts, {} groups, {} roles", options_.policy_file,
                   p->accounts(), p->groups(), p->roles());
    }
    lock.lock();
  }
}

std::shared_ptr<const policy> authenticator::current() const {
  std::lock_guard lock{mutex_};
  return policy_;
}

bool authenticator::may_block(const std::string& authorization) const {
  auto [scheme, credentials] = split_scheme(authorization);
  if (scheme != "basic") return false;
  auto decoded = base64_decode(credentials);
  if (!decoded) return false;
  std::lock_guard lock{mutex_};
  auto it = logins_.find(sha256_hex(*decoded));
  return it == logins_.end() || it->second.expires <= std::chrono::steady_clock::now();
}

caf::expected<identity> authenticator::authenticate(const std::string& authorization) {
  if (authorization.empty())
    return refused(
        "this API needs credentials: 'Authorization: Bearer TOKEN' for a service "
        "account or HTTP Basic for a directory login");
  auto [scheme, credentials] = split_scheme(authorization);
  if (scheme == "bearer") {
    auto p = current();
    const auto* a = credentials.empty() ? nullptr : p->find_account(sha256_hex(credentials));
    if (!a) return refused("the bearer token is unknown or revoked");
    return identity{a->name, "token", a->roles, a->maas};
  }
  if (scheme == "basic") return login(credentials);
  return refused("unsupported authorization scheme; use Bearer or Basic");
}

caf::expected<identity> authenticator::login(const std::string& credentials) {
  if (!options_.directory) return refused("directory logins are not configured on this node");
  auto decoded = base64_decode(credentials);
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos || colon == 0)
    return refused("malformed Basic credentials; expected base64 of LOGIN:PASSWORD");
  auto user = decoded->substr(0, colon);
  auto key = sha256_hex(*decoded);
  auto now = std::chrono::steady_clock::now();
  directory_user person;
  bool cached = false;
  {
    std::lock_guard lock{mutex_};
    if (auto it = logins_.find(key); it != logins_.end() && it->second.expires > now) {
      person = it->second.user;
      cached = true;
    }
  }
  if (!cached) {
    auto found = options_.directory(user, decoded->substr(colon + 1));
    if (!found) return found.error();
    person = std::move(*found);
    std::lock_guard lock{mutex_};
    if (logins_.size() >= login_cache_limit) {
      std::erase_if(logins_, [&](const auto& kv) { return kv.second.expires <= now; });
      if (logins_.size() >= login_cache_limit) logins_.clear();
    }
    logins_[key] = {person, now + options_.login_cache_ttl};
  }
  // The directory's spelling of the login (it matches logins ignoring case and spaces).
  return identity{person.login, "directory", current()->roles_of_groups(person.groups), false};
}

decision authenticator::authorize(const identity& who, const operation& what) const {
  return current()->allows(who, what);
}

scope authenticator::scope_of(const identity& who, const std::string& action) const {
  return current()->scope_of(who, action);
}

}  // namespace ab::auth
