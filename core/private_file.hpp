#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace ab {

/// Refuses a secret file (a TLS private key, a password file) that group or others may access.
///
/// The mode checked is that of the file a symbolic link leads to. `what` names the file's role
/// in the message, e.g. `private key file`; a file that cannot be examined, or whose mode
/// grants group or others any access, is a `bad_config` error naming the path, its mode and
/// the fix.
caf::error check_private_file(const std::string& path, std::string_view what);

}  // namespace ab
