#include "core/release.hpp"

#include <algorithm>

namespace ab {

namespace {

std::string range_text(protocol_range r) {
  return r.min == r.max ? std::to_string(r.min)
                        : std::to_string(r.min) + "-" + std::to_string(r.max);
}

}  // namespace

std::string incompatibility(protocol_range ours, protocol_range theirs, const std::string& who) {
  if (theirs.min <= ours.max && ours.min <= theirs.max) return {};
  return "speaks protocol " + range_text(theirs) + "; " + who + " speaks " + range_text(ours) +
         (theirs.min > ours.max ? ": upgrade " + who : std::string{": upgrade the node"});
}

int common_protocol(protocol_range a, protocol_range b) {
  auto top = std::min(a.max, b.max);
  return top >= std::max(a.min, b.min) ? top : 0;
}

release_info this_release(std::string version) {
  return release_info{std::move(version), protocol_range{}, 0};
}

}  // namespace ab
