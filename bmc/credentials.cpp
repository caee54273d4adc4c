#include "bmc/credentials.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "core/error.hpp"

namespace ab::bmc {

namespace {

caf::expected<credentials> split(const std::string& text, const std::string& reference) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return make_error(errc::bad_config,
                      "credential reference " + reference + " does not hold USER:PASSWORD");
  return credentials{text.substr(0, colon), text.substr(colon + 1)};
}

caf::expected<credentials> from_file(const std::string& path, const std::string& reference) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(errc::bad_config, "credential reference " + reference + ": no such file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return make_error(errc::bad_config, "credential reference " + reference +
                                            ": the file must not be readable by group or others "
                                            "(chmod 600)");
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return make_error(errc::bad_config, "credential reference " + reference + ": cannot be read");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return split(line, reference);
}

}  // namespace

caf::expected<credentials> resolve_credentials(const std::string& reference) {
  if (reference.rfind("file:", 0) == 0) return from_file(reference.substr(5), reference);
  if (reference.rfind("env:", 0) == 0) {
    const char* value = std::getenv(reference.substr(4).c_str());
    if (!value)
      return make_error(errc::bad_config, "credential reference " + reference + ": not set");
    return split(value, reference);
  }
  return make_error(errc::bad_config,
                    "credential reference '" + reference + "' is neither file:PATH nor env:NAME");
}

}  // namespace ab::bmc
