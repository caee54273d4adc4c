#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::config {

/// One cluster: the request actions its nodes process, and optional worker counts per job type.
struct cluster_def {
  /// Actions this cluster processes; `*` means every action no other cluster names.
  std::vector<std::string> actions;
  /// Workers per job type on this cluster's nodes, overriding the node configuration.
  std::map<std::string, int> workers;
};

/// The operator's map: which cluster each node belongs to, and which actions each cluster
/// processes. Any node's API accepts any request; the map only filters what a node processes.
struct cluster_map {
  std::map<std::string, cluster_def> clusters;
  /// Node id → cluster name.
  std::map<std::string, std::string> nodes;
  /// The cluster of a node the map does not name.
  std::string default_cluster;

  /// The cluster `node_id` belongs to.
  const std::string& cluster_of(const std::string& node_id) const;
  /// The actions a node of `cluster` claims jobs of.
  storage::action_filter filter_for(const std::string& cluster) const;
  /// The map AutoBuild uses when none is configured: build ← reimage, discover ← discover and
  /// build (first image of new inventory), others ← everything else; nodes default to others.
  static cluster_map defaults();
};

/// Parses and validates a cluster map from JSON text; `origin` (a file name) prefixes every
/// error, which names the key and what was expected.
caf::expected<cluster_map> parse_cluster_map(const std::string& json, const std::string& origin);

/// Reads and parses a cluster map file.
caf::expected<cluster_map> load_cluster_map(const std::string& path);

}  // namespace ab::config
