#include "core/site_name.hpp"

#include <algorithm>

namespace ab {

bool valid_site_name(std::string_view name) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !name.empty() && name.size() <= max_site_name && lower_alnum(name.front()) &&
         std::all_of(name.begin(), name.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

}  // namespace ab
