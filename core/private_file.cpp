#include "core/private_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "core/error.hpp"

namespace ab {

caf::error check_private_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(errc::bad_config,
                      std::string{what} + " " + path + ": cannot be read: " +
                          std::error_code{errno, std::generic_category()}.message());
  // A secret that others can read is a secret no longer: refuse it rather than serve with it.
  auto mode = st.st_mode & 07777;
  if ((mode & (S_IRWXG | S_IRWXO)) == 0) return caf::none;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
  return make_error(errc::bad_config, std::string{what} + " " + path +
                                          ": group or others may access it (mode " + octal +
                                          "); make it private to its owner: chmod 600 " + path);
}

}  // namespace ab
