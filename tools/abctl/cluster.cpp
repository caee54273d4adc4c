// The cluster commands of `abctl`: cluster show (the routers' node table and the site's
// cluster map), cluster move.

#include <cstdio>
#include <map>

#include "core/error.hpp"
#include "tools/abctl/answers.hpp"
#include "tools/abctl/detail/context.hpp"
#include "tools/abctl/render.hpp"

namespace ab::abctl::detail {

namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

/// The map as a table: each cluster, what it serves and its nodes.
std::string map_table(const cluster_map_info& m) {
  std::map<std::string, std::vector<std::string>> members;
  if (auto n = m.map.find("nodes"); n != m.map.end() && n->is_object())
    for (const auto& [node, cluster] : n->items())
      members[cluster.get<std::string>()].push_back(node);
  std::string def;
  if (auto d = m.map.find("default_cluster"); d != m.map.end() && d->is_string()) def = *d;
  std::vector<std::vector<std::string>> rows;
  if (auto c = m.map.find("clusters"); c != m.map.end() && c->is_object()) {
    for (const auto& [name, spec] : c->items()) {
      std::vector<std::string> actions;
      if (auto a = spec.find("actions"); a != spec.end() && a->is_array())
        for (const auto& x : *a) actions.push_back(x.is_string() ? x.get<std::string>() : x.dump());
      auto nodes = join(members[name]);
      if (name == def) nodes += nodes.empty() ? "(default)" : " (default)";
      rows.push_back({name, join(actions), nodes});
    }
  }
  std::string head = "cluster map version " + std::to_string(m.version);
  if (m.changed_at_ms) head += ", changed " + utc_time(m.changed_at_ms);
  if (!m.changed_by.empty()) head += " by " + m.changed_by;
  return printable(head) + "\n" + render_table({"CLUSTER", "ACTIONS", "NODES"}, rows);
}

std::string load_text(const std::optional<double>& load) {
  if (!load) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *load);
  return buf;
}

std::string age_text(const std::optional<std::int64_t>& ms) {
  if (!ms) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(*ms) / 1000.0);
  return buf;
}

int run_show(const context& ctx) {
  int code = exit_ok;
  json out{{"cluster", nullptr}, {"cluster_map", nullptr}};
  std::string text;
  // The routers' table: a node answers 404 here, which is no failure while the map answers.
  auto table = ctx.client.call(get(with_site(ctx, "/v1/cluster")));
  bool any = false;
  if (!table) {
    ctx.note("cluster: " + table.failure.message);
    return exit_unreachable;
  }
  if (table.answer->status == 200) {
    auto j = parse_body(table.answer->body);
    auto nodes = j ? parse_cluster_nodes(*j) : caf::expected<std::vector<node_info>>{j.error()};
    if (!nodes) {
      ctx.note("cluster: " + sentence(nodes.error()));
      return exit_bad_answer;
    }
    any = true;
    out["cluster"] = *j;
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : *nodes)
      rows.push_back({n.node_id, n.site, n.cluster, n.health, load_text(n.load),
                      age_text(n.heartbeat_age_ms), n.api_url});
    // The answering router's own counters, when it gives them.
    if (auto rt = j->find("router"); rt != j->end() && rt->is_object()) {
      std::string line = "router " + table.answer->router;
      for (const auto& [k, v] : rt->items())
        if (v.is_primitive())
          line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      text += printable(line) + "\n";
    }
    text += render_table({"NODE", "SITE", "CLUSTER", "HEALTH", "LOAD", "HEARTBEAT_AGE", "API_URL"},
                         rows) +
            "\n";
  } else if (table.answer->status != 404) {
    return interpret(ctx, table, "cluster").code;
  }
  auto map = exchange(ctx, get(with_site(ctx, "/v1/cluster-map")), "cluster map");
  if (map.code == exit_ok) {
    auto m = parse_cluster_map(map.body);
    if (!m) {
      ctx.note("cluster map: " + sentence(m.error()));
      return exit_bad_answer;
    }
    any = true;
    out["cluster_map"] = map.body;
    text += map_table(*m);
  } else if (map.code != exit_not_found || !any) {
    code = map.code;
  }
  if (!any) return worse(code, exit_not_found);
  ctx.io.out << (ctx.json() ? json_text(out) : text);
  return code;
}

int run_move(const context& ctx) {
  json body{{"node", ctx.cl.node}, {"cluster", ctx.cl.cluster}};
  // Moving a node to the cluster it is in changes nothing: safe to repeat.
  api_call c{"POST", with_site(ctx, "/v1/cluster-map/moves"),
             body.dump(-1, ' ', false, json::error_handler_t::replace), "", true};
  auto r = exchange(ctx, c, "cluster move");
  if (r.code != exit_ok) return r.code;
  auto m = parse_cluster_map(r.body);
  if (!m) {
    ctx.note("cluster move: " + sentence(m.error()));
    return exit_bad_answer;
  }
  if (ctx.json())
    ctx.io.out << json_text(r.body);
  else
    ctx.io.out << printable("node " + ctx.cl.node + " moved to cluster " + ctx.cl.cluster) << "\n"
               << map_table(*m);
  return exit_ok;
}

}  // namespace

int run_cluster(const context& ctx) {
  if (ctx.cl.command == "cluster move") return run_move(ctx);
  return run_show(ctx);
}

}  // namespace ab::abctl::detail
