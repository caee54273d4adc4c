#include "bmc/credential_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "core/error.hpp"

namespace ab::bmc {

namespace {

/// The most a credential file may hold; the first line is all that counts.
constexpr std::size_t file_limit = 4096;

caf::error refused(const std::string& why) {
  return make_error(errc::invalid_argument, why);
}

/// Closes a descriptor when it goes out of scope.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

/// A NAME of `file:NAME`: one plain file name of the directory.
bool safe_file_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name.find("..") != std::string::npos)
    return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == '\\' || is_control(static_cast<unsigned char>(c));
  });
}

/// A NAME of `env:NAME`: letters, digits and `_`, as a shell would export it.
bool safe_env_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

/// `USER:PASSWORD`; the error quotes neither half.
caf::expected<credentials> split(std::string text, const std::string& reference) {
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return refused("credential " + reference + " does not hold USER:PASSWORD");
  return credentials{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

credential_store::credential_store(credential_store_options options)
    : options_(std::move(options)) {}

caf::error credential_store::validate(const std::string& reference) const {
  auto c = resolve(reference);
  return c ? caf::error{} : std::move(c.error());
}

caf::expected<credentials> credential_store::resolve(const std::string& reference) const {
  if (reference.rfind("file:", 0) == 0) return from_file(reference.substr(5));
  if (reference.rfind("env:", 0) == 0) return from_env(reference.substr(4));
  return refused(
      "a credential_ref is file:NAME (a file of the node's credentials directory) or "
      "env:NAME (a variable whose name starts with " +
      options_.env_prefix + ")");
}

caf::expected<credentials> credential_store::from_file(const std::string& name) const {
  if (!safe_file_name(name))
    return refused(
        "a file: credential names one file of the node's credentials directory: "
        "no '/', no '..', no control characters");
  auto reference = "file:" + name;
  fd_guard dir{::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0) return refused("credential " + reference + " is not in the credentials store");
  fd_guard file{::openat(dir.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) {
    if (errno == ELOOP)
      return refused("credential " + reference +
                     " is a link; the credentials store follows no links");
    return refused("credential " + reference + " is not in the credentials store");
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode))
    return refused("credential " + reference + " is not a regular file of the credentials store");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return refused("credential " + reference +
                   " is open to group or others; the node uses it only when private (chmod 600)");
  std::string text;
  char buf[512];
  for (;;) {
    auto n = ::read(file.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return refused("credential " + reference + " cannot be read");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > file_limit || text.find('\n') != std::string::npos) break;
  }
  return split(std::move(text), reference);
}

caf::expected<credentials> credential_store::from_env(const std::string& name) const {
  if (!safe_env_name(name) || name.rfind(options_.env_prefix, 0) != 0 ||
      name.size() == options_.env_prefix.size())
    return refused("an env: credential names a variable whose name starts with " +
                   options_.env_prefix + " (letters, digits and '_')");
  auto reference = "env:" + name;
  const char* value = std::getenv(name.c_str());
  if (!value) return refused("credential " + reference + " is not set on this node");
  return split(value, reference);
}

caf::error credential_store::prepare() const {
  const auto& dir = options_.directory;
  if (dir.empty()) return make_error(errc::bad_config, "credentials-dir: expected a directory");
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec || ::chmod(dir.c_str(), 0700) != 0)
      return make_error(errc::bad_config,
                        "credentials-dir: " + dir + " is missing and cannot be created");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(errc::bad_config, "credentials-dir: " + dir + " is not a directory");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return make_error(errc::bad_config,
                      "credentials-dir: " + dir + " is writable by group or others (chmod 700)");
  return {};
}

}  // namespace ab::bmc
