#include "lifecycle/safety.hpp"

#include "core/clock.hpp"

namespace ab::lifecycle {

std::string describe(const storage::hold& h) {
  return "host " + h.host + " is on hold by " + h.owner + ": " + h.reason;
}

std::string describe(const storage::pause& p) {
  return p.scope + " " + p.target + " is paused by " + p.owner + ": " + p.reason;
}

std::vector<blocker> blockers_of(const work_place& where, const std::vector<storage::hold>& holds,
                                 const std::vector<storage::pause>& pauses) {
  std::vector<blocker> out;
  for (const auto& h : holds)
    if (h.host == where.host) out.push_back({"hold", describe(h)});
  // A pause's scope picks which field of the place it is matched against.
  for (const auto& p : pauses)
    if ((p.scope == "site" && p.target == where.site) ||
        (p.scope == "cluster" && !where.cluster.empty() && p.target == where.cluster) ||
        (p.scope == "action" && p.target == where.action))
      out.push_back({"pause", describe(p)});
  return out;
}

}  // namespace ab::lifecycle
