#pragma once

#include <cstdint>
#include <string_view>

namespace ab {

/// FNV-1a, 64 bits: cheap, stable across processes and builds, well spread for short keys.
/// Not for anything an attacker must not steer.
constexpr std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace ab
