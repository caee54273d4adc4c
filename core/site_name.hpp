#pragma once

#include <cstddef>
#include <string_view>

namespace ab {

/// Longest site name accepted.
inline constexpr std::size_t max_site_name = 63;

/// True for a site name AutoBuild accepts: 1–63 lowercase ASCII letters, digits and `-`,
/// starting with a letter or digit.
bool valid_site_name(std::string_view name);

}  // namespace ab
