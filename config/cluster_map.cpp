#include "config/cluster_map.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace ab::config {

namespace {

using json = nlohmann::json;

caf::error bad(const std::string& origin, const std::string& key, const std::string& why) {
  return make_error(errc::bad_config, origin + ": " + key + ": " + why);
}

}  // namespace

const std::string& cluster_map::cluster_of(const std::string& node_id) const {
  auto it = nodes.find(node_id);
  return it == nodes.end() ? default_cluster : it->second;
}

storage::action_filter cluster_map::filter_for(const std::string& cluster) const {
  storage::action_filter f;
  auto it = clusters.find(cluster);
  if (it == clusters.end()) return f;
  bool rest = false;
  for (const auto& a : it->second.actions) {
    if (a == "*")
      rest = true;
    else
      f.only.push_back(a);
  }
  if (!rest) return f;
  // "Everything else": whatever the other clusters do not name (and nothing it names itself
  // needs listing, since `only` would then narrow it).
  f.only.clear();
  for (const auto& [name, def] : clusters)
    if (name != cluster)
      for (const auto& a : def.actions)
        if (a != "*") f.except.push_back(a);
  return f;
}

std::optional<std::string> cluster_map::cluster_serving(const std::string& action) const {
  const std::string* rest = nullptr;
  for (const auto& [name, def] : clusters)
    for (const auto& a : def.actions) {
      if (a == action) return name;
      if (a == "*") rest = &name;
    }
  if (rest) return *rest;
  return std::nullopt;
}

std::string cluster_map::describe() const {
  std::string out;
  for (const auto& [name, def] : clusters) {
    if (!out.empty()) out += "; ";
    out += name + " serves ";
    for (std::size_t i = 0; i < def.actions.size(); ++i) out += (i ? ", " : "") + def.actions[i];
  }
  return out;
}

cluster_map cluster_map::defaults() {
  cluster_map m;
  m.clusters["all"].actions = {"*"};
  m.default_cluster = "all";
  return m;
}

caf::expected<cluster_map> parse_cluster_map(const std::string& text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return make_error(errc::bad_config, origin + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) return bad(origin, "(top level)", "expected an object");
  for (const auto& [key, _] : doc.items())
    if (key != "clusters" && key != "nodes" && key != "default_cluster")
      return bad(origin, key, "unknown key (expected clusters, nodes, default_cluster)");
  cluster_map m;
  if (!doc.contains("clusters") || !doc["clusters"].is_object() || doc["clusters"].empty())
    return bad(origin, "clusters", "expected a non-empty object of cluster definitions");
  std::map<std::string, std::string> owner_of_action;
  bool have_rest = false;
  for (const auto& [name, def] : doc["clusters"].items()) {
    auto key = "clusters." + name;
    if (!def.is_object()) return bad(origin, key, "expected an object");
    for (const auto& [k, _] : def.items())
      if (k != "actions" && k != "workers")
        return bad(origin, key + "." + k, "unknown key (expected actions, workers)");
    const auto& actions = def.value("actions", json::array());
    if (!actions.is_array() || actions.empty())
      return bad(origin, key + ".actions", "expected a non-empty array of action names");
    cluster_def c;
    for (const auto& a : actions) {
      if (!a.is_string() || a.get<std::string>().empty())
        return bad(origin, key + ".actions", "expected action names (strings)");
      auto action = a.get<std::string>();
      if (action == "*") {
        if (have_rest) return bad(origin, key + ".actions", "only one cluster may take \"*\"");
        have_rest = true;
      } else if (auto [it, fresh] = owner_of_action.emplace(action, name); !fresh) {
        return bad(origin, key + ".actions",
                   "action '" + action + "' is already processed by cluster '" + it->second + "'");
      }
      c.actions.push_back(action);
    }
    if (def.contains("workers")) {
      if (!def["workers"].is_object())
        return bad(origin, key + ".workers", "expected an object of job type → count");
      for (const auto& [type, n] : def["workers"].items()) {
        if (!n.is_number_integer() || n.get<int>() < 0 || n.get<int>() > 256)
          return bad(origin, key + ".workers." + type, "expected a whole number from 0 to 256");
        c.workers[type] = n.get<int>();
      }
    }
    m.clusters[name] = std::move(c);
  }
  if (doc.contains("nodes")) {
    if (!doc["nodes"].is_object()) return bad(origin, "nodes", "expected an object node → cluster");
    for (const auto& [node, cluster] : doc["nodes"].items()) {
      if (!cluster.is_string() || !m.clusters.count(cluster.get<std::string>()))
        return bad(origin, "nodes." + node, "expected the name of a cluster defined above");
      m.nodes[node] = cluster.get<std::string>();
    }
  }
  if (doc.contains("default_cluster")) {
    const auto& d = doc["default_cluster"];
    if (!d.is_string() || !m.clusters.count(d.get<std::string>()))
      return bad(origin, "default_cluster", "expected the name of a cluster defined above");
    m.default_cluster = d.get<std::string>();
  } else if (m.clusters.size() == 1) {
    m.default_cluster = m.clusters.begin()->first;
  } else {
    return bad(origin, "default_cluster", "missing: name the cluster of unlisted nodes");
  }
  return m;
}

caf::expected<cluster_map> load_cluster_map(const std::string& path) {
  std::ifstream in{path};
  if (!in) return make_error(errc::bad_config, path + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_cluster_map(buf.str(), path);
}

}  // namespace ab::config
