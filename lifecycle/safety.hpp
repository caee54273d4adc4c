#pragma once

// Why a request would not start now: holds, pauses and pacing as one answer, which the claim
// applies and the API (waiting_for, dry runs) explains.

#include <string>
#include <vector>

#include "storage/safety_store.hpp"
#include "storage/types.hpp"

namespace ab::lifecycle {

/// One reason a request does not start: `kind` is `hold`, `pause` or `pacing`; `reason` says
/// it in words (who placed the hold or pause and why).
struct blocker {
  std::string kind;
  std::string reason;
};

/// Where a request would run: what holds and pauses are matched against.
struct work_place {
  std::string host;
  std::string site;
  std::string action;
  /// The cluster serving the action (the cluster map's answer); empty: unknown.
  std::string cluster;
};

/// What stops work at `where` now: its host's hold (from `holds`), then each pause of its
/// site, cluster or action (from `pauses`), in that order; empty when nothing does.
std::vector<blocker> blockers_of(const work_place& where, const std::vector<storage::hold>& holds,
                                 const std::vector<storage::pause>& pauses);

/// The sentence a held host's submission is refused with and its waiting request shows.
std::string describe(const storage::hold& h);

/// The sentence a paused request shows.
std::string describe(const storage::pause& p);

}  // namespace ab::lifecycle
