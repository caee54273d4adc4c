#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
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
  /// The cluster whose nodes process requests of `action`; nullopt when none does (no cluster
  /// names it and none takes `*`).
  std::optional<std::string> cluster_serving(const std::string& action) const;
  /// The clusters and their actions in one line, for messages: `build serves reimage; …`.
  std::string describe() const;
  /// The map AutoBuild uses when none is configured: one cluster, `all`, that processes every
  /// action; every node is in it.
  static cluster_map defaults();
};

/// The cluster map in force, shared by the watcher that replaces it and the API that reads it.
class live_cluster_map {
 public:
  explicit live_cluster_map(cluster_map map)
      : map_(std::make_shared<const cluster_map>(std::move(map))) {}
  /// The map in force now; a reader keeps the one it took while it uses it.
  std::shared_ptr<const cluster_map> current() const { return map_.load(); }
  /// Puts `map` in force.
  void replace(cluster_map map) { map_.store(std::make_shared<const cluster_map>(std::move(map))); }

 private:
  std::atomic<std::shared_ptr<const cluster_map>> map_;
};

/// Parses and validates a cluster map from JSON text; `origin` (a file name) prefixes every
/// error, which names the key and what was expected.
caf::expected<cluster_map> parse_cluster_map(const std::string& json, const std::string& origin);

/// Reads and parses a cluster map file.
caf::expected<cluster_map> load_cluster_map(const std::string& path);

}  // namespace ab::config
