#include "config/cluster_map.hpp"

#include <algorithm>
#include <cctype>
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

bool valid_name(const std::string& name, std::size_t max, bool colon) {
  if (name.empty() || name.size() > max) return false;
  return std::all_of(name.begin(), name.end(), [colon](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-' ||
           (colon && ch == ':');
  });
}

/// A key as an error message may quote it: hostile keys are cut and made printable.
std::string quoted(const std::string& key) {
  std::string out;
  for (char ch : key.substr(0, 64)) out += std::isprint(static_cast<unsigned char>(ch)) ? ch : '?';
  return key.size() > 64 ? out + "…" : out;
}

}  // namespace

bool valid_node_name(const std::string& name) {
  return valid_name(name, 128, true);
}

bool valid_cluster_name(const std::string& name) {
  return valid_name(name, 64, false);
}

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
  if (text.size() > cluster_map_max_bytes)
    return bad(origin, "(top level)",
               "the document is larger than " + std::to_string(cluster_map_max_bytes) + " bytes");
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
  if (doc["clusters"].size() > cluster_map_max_clusters)
    return bad(origin, "clusters",
               "at most " + std::to_string(cluster_map_max_clusters) + " clusters");
  std::map<std::string, std::string> owner_of_action;
  bool have_rest = false;
  for (const auto& [name, def] : doc["clusters"].items()) {
    auto key = "clusters." + quoted(name);
    if (!valid_cluster_name(name))
      return bad(origin, key, "a cluster name is 1 to 64 of A-Z a-z 0-9 . _ -");
    if (!def.is_object()) return bad(origin, key, "expected an object");
    for (const auto& [k, _] : def.items())
      if (k != "actions" && k != "workers")
        return bad(origin, key + "." + quoted(k), "unknown key (expected actions, workers)");
    const auto& actions = def.value("actions", json::array());
    if (!actions.is_array() || actions.empty())
      return bad(origin, key + ".actions", "expected a non-empty array of action names");
    if (actions.size() > cluster_map_max_actions)
      return bad(origin, key + ".actions",
                 "at most " + std::to_string(cluster_map_max_actions) + " actions");
    cluster_def c;
    for (const auto& a : actions) {
      if (!a.is_string() ||
          (a.get<std::string>() != "*" && !valid_cluster_name(a.get<std::string>())))
        return bad(origin, key + ".actions",
                   "expected action names (1 to 64 of A-Z a-z 0-9 . _ -) or \"*\"");
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
      if (def["workers"].size() > cluster_map_max_actions)
        return bad(origin, key + ".workers",
                   "at most " + std::to_string(cluster_map_max_actions) + " job types");
      for (const auto& [type, n] : def["workers"].items()) {
        if (!valid_cluster_name(type))
          return bad(origin, key + ".workers." + quoted(type),
                     "a job type is 1 to 64 of A-Z a-z 0-9 . _ -");
        if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > 256)
          return bad(origin, key + ".workers." + type, "expected a whole number from 0 to 256");
        c.workers[type] = n.get<int>();
      }
    }
    m.clusters[name] = std::move(c);
  }
  if (doc.contains("nodes")) {
    if (!doc["nodes"].is_object()) return bad(origin, "nodes", "expected an object node → cluster");
    if (doc["nodes"].size() > cluster_map_max_nodes)
      return bad(origin, "nodes", "at most " + std::to_string(cluster_map_max_nodes) + " nodes");
    for (const auto& [node, cluster] : doc["nodes"].items()) {
      if (!valid_node_name(node))
        return bad(origin, "nodes." + quoted(node), "a node id is 1 to 128 of A-Z a-z 0-9 . _ : -");
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

std::string to_json(const cluster_map& map) {
  // nlohmann's objects keep their keys sorted: equal maps give equal text.
  json clusters = json::object();
  for (const auto& [name, def] : map.clusters) {
    json c{{"actions", def.actions}};
    if (!def.workers.empty()) c["workers"] = def.workers;
    clusters[name] = std::move(c);
  }
  json doc{{"clusters", std::move(clusters)}, {"default_cluster", map.default_cluster}};
  if (!map.nodes.empty()) doc["nodes"] = map.nodes;
  return doc.dump();
}

std::string describe_changes(const cluster_map& before, const cluster_map& after,
                             std::size_t max_bytes) {
  std::vector<std::string> parts;
  std::set<std::string> names;
  for (const auto& [node, _] : before.nodes) names.insert(node);
  for (const auto& [node, _] : after.nodes) names.insert(node);
  for (const auto& node : names) {
    const auto& from = before.cluster_of(node);
    const auto& to = after.cluster_of(node);
    if (from != to) parts.push_back(node + ": " + from + " → " + to);
  }
  if (before.default_cluster != after.default_cluster)
    parts.push_back("default_cluster: " + before.default_cluster + " → " + after.default_cluster);
  for (const auto& [name, def] : after.clusters) {
    auto it = before.clusters.find(name);
    if (it == before.clusters.end())
      parts.push_back("cluster " + name + " added");
    else if (!(it->second == def))
      parts.push_back("cluster " + name + " changed");
  }
  for (const auto& [name, _] : before.clusters)
    if (!after.clusters.count(name)) parts.push_back("cluster " + name + " removed");
  if (parts.empty()) return "no change";
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (out.size() + parts[i].size() + 2 > max_bytes)
      return out + "; … (" + std::to_string(parts.size()) + " changes in all)";
    out += (i ? "; " : "") + parts[i];
  }
  return out;
}

caf::expected<cluster_map> with_move(const cluster_map& map, const std::string& node,
                                     const std::string& cluster) {
  if (!valid_node_name(node))
    return make_error(
        errc::invalid_argument,
        "node: a node id is 1 to 128 of A-Z a-z 0-9 . _ : - (got '" + quoted(node) + "')");
  if (!map.clusters.count(cluster))
    return make_error(errc::not_found, "cluster '" + quoted(cluster) +
                                           "' is not in the cluster map (" + map.describe() + ")");
  if (!map.nodes.count(node) && map.nodes.size() >= cluster_map_max_nodes)
    return make_error(errc::invalid_argument, "the cluster map already names " +
                                                  std::to_string(cluster_map_max_nodes) + " nodes");
  auto out = map;
  out.nodes[node] = cluster;
  return out;
}

caf::expected<cluster_map> load_cluster_map(const std::string& path) {
  std::ifstream in{path};
  if (!in) return make_error(errc::bad_config, path + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_cluster_map(buf.str(), path);
}

}  // namespace ab::config
