#include "config/site_cluster_map.hpp"

#include "core/error.hpp"

namespace ab::config {

namespace {

caf::expected<site_cluster_map> parsed(const storage::cluster_map_document& d) {
  site_cluster_map out;
  out.version = d.version;
  out.changed_at = d.changed_at;
  out.changed_by = d.changed_by;
  if (d.version == 0) return out;
  auto map = parse_cluster_map(
      d.document, "the site database's cluster map (version " + std::to_string(d.version) + ")");
  if (!map) return map.error();
  out.map = std::move(*map);
  return out;
}

}  // namespace

caf::expected<site_cluster_map> read_site_cluster_map(storage::cluster_map_store& store) {
  auto d = store.read_cluster_map();
  if (!d) return d.error();
  return parsed(*d);
}

caf::expected<site_cluster_map> change_site_cluster_map(storage::cluster_map_store& store,
                                                        const cluster_map& map,
                                                        std::int64_t if_version,
                                                        const map_author& by) {
  auto current = read_site_cluster_map(store);
  if (!current) return current.error();
  if (current->version != if_version)
    return make_error(errc::conflict, "the cluster map is at version " +
                                          std::to_string(current->version) + ", not " +
                                          std::to_string(if_version) +
                                          ": read it again and redo the change");
  if (current->version > 0 && current->map == map) return current;
  // What is stored is what the parser reads back: a map that came in another way (built in
  // code) is checked like a file.
  auto text = to_json(map);
  auto checked = parse_cluster_map(text, "map");
  if (!checked) return checked.error();
  auto stored = store.change_cluster_map(
      {text, if_version, by.name, by.source, describe_changes(current->map, *checked)});
  if (!stored) return stored.error();
  return parsed(*stored);
}

caf::expected<site_cluster_map> move_node(storage::cluster_map_store& store,
                                          const std::string& node, const std::string& cluster,
                                          const map_author& by) {
  constexpr int attempts = 5;
  for (int i = 1;; ++i) {
    auto current = read_site_cluster_map(store);
    if (!current) return current.error();
    auto moved = with_move(current->map, node, cluster);
    if (!moved) return moved.error();
    if (current->version > 0 && *moved == current->map) return current;
    auto out = change_site_cluster_map(store, *moved, current->version, by);
    if (out || !is(out.error(), errc::conflict) || i == attempts) return out;
  }
}

}  // namespace ab::config
