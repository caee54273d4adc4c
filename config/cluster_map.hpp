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

  bool operator==(const cluster_def&) const = default;
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

  bool operator==(const cluster_map&) const = default;
};

/// The most bytes of a cluster map document (a file or the site database's).
inline constexpr std::size_t cluster_map_max_bytes = 64 * 1024;
/// The most clusters, nodes, and actions of one cluster, a map may hold.
inline constexpr std::size_t cluster_map_max_clusters = 64;
inline constexpr std::size_t cluster_map_max_nodes = 10000;
inline constexpr std::size_t cluster_map_max_actions = 256;

/// Whether `name` may name a node in a cluster map: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
bool valid_node_name(const std::string& name);
/// Whether `name` may name a cluster (or a job type, an action): 1 to 64 of `A-Z a-z 0-9 . _ -`.
bool valid_cluster_name(const std::string& name);

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

/// `map` as the JSON document `parse_cluster_map` reads (the file format), in one line with its
/// keys in order: equal maps give equal text.
std::string to_json(const cluster_map& map);

/// What changed from `before` to `after`, in one line for the audit trail: the nodes that
/// moved (`n1: discover → build`), and the clusters added, removed or changed; cut short
/// past `max_bytes`.
std::string describe_changes(const cluster_map& before, const cluster_map& after,
                             std::size_t max_bytes = 1500);

/// `map` with `node` in `cluster`; `not_found` when the map has no such cluster,
/// `invalid_argument` when `node` is not a valid node name.
caf::expected<cluster_map> with_move(const cluster_map& map, const std::string& node,
                                     const std::string& cluster);

/// Reads and parses a cluster map file.
caf::expected<cluster_map> load_cluster_map(const std::string& path);

}  // namespace ab::config
