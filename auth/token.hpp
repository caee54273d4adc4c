#pragma once

#include <string>
#include <string_view>

namespace ab::auth {

/// SHA-256 of `text` as 64 lower-case hex digits: how bearer tokens are stored in
/// configuration and callback tokens in the store.
std::string sha256_hex(std::string_view text);

/// A new random token: `bytes` bytes from the operating system's CSPRNG, URL-safe base64
/// without padding (43 characters for the default 32 bytes).
std::string random_token(std::size_t bytes = 32);

/// Compares two strings in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ab::auth
