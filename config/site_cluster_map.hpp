#pragma once

// The site's cluster map as the site database holds it: read, changed as a whole, or one
// node moved, each change validated by `parse_cluster_map` and stored as a compare-and-set on
// the version (storage's `cluster_map_store`, which audits it).

#include <cstdint>
#include <string>

#include <caf/expected.hpp>

#include "config/cluster_map.hpp"
#include "storage/cluster_map_store.hpp"

namespace ab::config {

/// One version of the site's cluster map, parsed.
struct site_cluster_map {
  /// 0: no one has set a map yet; `map` is then `cluster_map::defaults()`.
  std::int64_t version = 0;
  cluster_map map = cluster_map::defaults();
  time_ms changed_at = 0;
  std::string changed_by;
};

/// Who changes the map, for the stored version and the audit trail.
struct map_author {
  std::string name;
  /// The client address, or empty.
  std::string source;
};

/// The site's map. A stored document that does not parse (edited behind AutoBuild's back) is
/// `bad_config`, naming the version and the key.
caf::expected<site_cluster_map> read_site_cluster_map(storage::cluster_map_store& store);

/// Puts `map` in force as the next version, if the site's map is still at `if_version`
/// (`conflict` otherwise). A map equal to the stored one is no change: the stored version is
/// returned as it is.
caf::expected<site_cluster_map> change_site_cluster_map(storage::cluster_map_store& store,
                                                        const cluster_map& map,
                                                        std::int64_t if_version,
                                                        const map_author& by);

/// Moves `node` (live or not) into `cluster` of the site's map: `not_found` for a cluster the
/// map lacks, `invalid_argument` for a bad node id. A concurrent change is read again and the
/// move redone on it (a few times, then `conflict`).
caf::expected<site_cluster_map> move_node(storage::cluster_map_store& store,
                                          const std::string& node, const std::string& cluster,
                                          const map_author& by);

}  // namespace ab::config
