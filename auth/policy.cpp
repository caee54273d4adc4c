#include "auth/policy.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace ab::auth {

namespace {

using json = nlohmann::json;

/// Thrown while parsing; becomes a bad_config error naming the place.
struct policy_error {
  std::string what;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void only_keys(const json& j, const std::string& where, std::initializer_list<const char*> keys) {
  if (!j.is_object()) throw policy_error{where + " must be an object"};
  for (const auto& item : j.items()) {
    const auto& k = item.key();
    if (std::none_of(keys.begin(), keys.end(), [&](const char* key) { return k == key; }))
      throw policy_error{where + " has an unknown field '" + k + "'"};
  }
}

std::vector<std::string> strings(const json& j, const std::string& where) {
  if (!j.is_array() || j.empty())
    throw policy_error{where + " must be a non-empty list of strings"};
  std::vector<std::string> out;
  for (const auto& v : j) {
    if (!v.is_string() || v.get<std::string>().empty())
      throw policy_error{where + " must be a non-empty list of strings"};
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool is_glob(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

/// Checks that every literal name in `names` is one of `known` (globs may match several).
void check_names(const std::vector<std::string>& names, const std::vector<std::string>& known,
                 const std::string& where, const std::string& kind) {
  for (const auto& n : names)
    if (!is_glob(n) && std::find(known.begin(), known.end(), n) == known.end())
      throw policy_error{where + " names an unknown " + kind + " '" + n + "'"};
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    return ::fnmatch(p.c_str(), value.c_str(), 0) == 0;
  });
}

grant parse_grant(const json& j, const std::string& where, const vocabulary& words) {
  only_keys(j, where, {"actions", "sites", "hosts", "classes"});
  if (!j.contains("actions")) throw policy_error{where + " needs 'actions'"};
  grant g;
  g.actions = strings(j["actions"], where + ".actions");
  auto known = words.actions;
  known.insert(known.end(), api_permissions().begin(), api_permissions().end());
  check_names(g.actions, known, where + ".actions", "action");
  if (j.contains("sites")) g.sites = strings(j["sites"], where + ".sites");
  if (j.contains("hosts")) g.hosts = strings(j["hosts"], where + ".hosts");
  if (j.contains("classes")) {
    g.classes = strings(j["classes"], where + ".classes");
    check_names(g.classes, words.classes, where + ".classes", "priority class");
  }
  return g;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

const std::vector<std::string>& api_permissions() {
  static const std::vector<std::string> all{
      "read",      "cancel",     "hosts.write", "audit.read",  "cluster.read", "cluster.write",
      "hold.read", "hold.write", "pause.read",  "pause.write", "metrics.read"};
  return all;
}

caf::expected<policy> policy::parse(const std::string& text, const vocabulary& words,
                                    const std::string& source) {
  try {
    auto doc = json::parse(text);
    only_keys(doc, "the policy", {"accounts", "groups", "roles", "quotas", "confirm_above"});
    policy p;
    if (doc.contains("roles")) {
      if (!doc["roles"].is_object()) throw policy_error{"roles must be an object"};
      for (const auto& [name, grants] : doc["roles"].items()) {
        auto where = "roles." + name;
        if (!grants.is_array()) throw policy_error{where + " must be a list of grants"};
        auto& out = p.roles_[name];
        for (std::size_t i = 0; i < grants.size(); ++i)
          out.push_back(parse_grant(grants[i], where + "[" + std::to_string(i) + "]", words));
      }
    }
    auto check_roles = [&](const std::vector<std::string>& roles, const std::string& where) {
      for (const auto& r : roles)
        if (!p.roles_.count(r)) throw policy_error{where + " names an unknown role '" + r + "'"};
    };
    if (doc.contains("accounts")) {
      if (!doc["accounts"].is_object()) throw policy_error{"accounts must be an object"};
      for (const auto& [name, j] : doc["accounts"].items()) {
        auto where = "accounts." + name;
        only_keys(j, where, {"token_sha256", "roles", "type"});
        account a;
        a.name = name;
        if (!j.contains("token_sha256") || !j["token_sha256"].is_string())
          throw policy_error{where + " needs 'token_sha256'"};
        a.token_sha256 = lower(j["token_sha256"].get<std::string>());
        if (a.token_sha256.size() != 64 ||
            a.token_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
          throw policy_error{where +
                             ".token_sha256 must be 64 hex digits (sha256sum of the token)"};
        if (!j.contains("roles")) throw policy_error{where + " needs 'roles'"};
        a.roles = strings(j["roles"], where + ".roles");
        check_roles(a.roles, where + ".roles");
        if (j.contains("type")) {
          if (j["type"] != "maas" && j["type"] != "service")
            throw policy_error{where + ".type must be \"maas\" or \"service\""};
          a.maas = j["type"] == "maas";
        }
        if (p.accounts_.count(a.token_sha256))
          throw policy_error{where + " has the same token as another account"};
        p.accounts_[a.token_sha256] = std::move(a);
      }
    }
    auto count = [](const json& j, const std::string& where) {
      if (!j.is_number_integer() || j.get<std::int64_t>() < 0 ||
          j.get<std::int64_t>() > 1'000'000'000)
        throw policy_error{where + " must be a whole number of hosts, 0 or more"};
      return j.get<std::int64_t>();
    };
    if (doc.contains("quotas")) {
      if (!doc["quotas"].is_object()) throw policy_error{"quotas must be an object"};
      for (const auto& [role, j] : doc["quotas"].items()) {
        auto where = "quotas." + role;
        if (!p.roles_.count(role))
          throw policy_error{where + " names an unknown role '" + role + "'"};
        only_keys(j, where, {"hosts_per_call", "hosts_per_hour"});
        role_quota q;
        if (j.contains("hosts_per_call"))
          q.hosts_per_call = count(j["hosts_per_call"], where + ".hosts_per_call");
        if (j.contains("hosts_per_hour"))
          q.hosts_per_hour = count(j["hosts_per_hour"], where + ".hosts_per_hour");
        p.quotas_[role] = q;
      }
    }
    if (doc.contains("confirm_above"))
      p.confirm_above_ = count(doc["confirm_above"], "confirm_above");
    if (doc.contains("groups")) {
      if (!doc["groups"].is_object()) throw policy_error{"groups must be an object"};
      for (const auto& [group, roles] : doc["groups"].items()) {
        auto list = strings(roles, "groups." + group);
        check_roles(list, "groups." + group);
        auto& out = p.groups_[lower(group)];
        out.insert(out.end(), list.begin(), list.end());
      }
    }
    return p;
  } catch (const policy_error& e) {
    return make_error(errc::bad_config, source + ": " + e.what);
  } catch (const json::exception& e) {
    return make_error(errc::bad_config, source + ": not valid JSON: " + e.what());
  }
}

caf::expected<policy> policy::load(const std::string& path, const vocabulary& words) {
  std::ifstream in(path);
  if (!in) return make_error(errc::bad_config, "cannot read the policy file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), words, path);
}

const account* policy::find_account(const std::string& token_sha256) const {
  auto it = accounts_.find(token_sha256);
  return it == accounts_.end() ? nullptr : &it->second;
}

std::vector<std::string> policy::roles_of_groups(const std::vector<std::string>& groups) const {
  std::set<std::string> out;
  for (const auto& g : groups)
    if (auto it = groups_.find(lower(g)); it != groups_.end())
      out.insert(it->second.begin(), it->second.end());
  return {out.begin(), out.end()};
}

bool scope::covers(const std::string& site, const std::string& host) const {
  return std::any_of(grants_.begin(), grants_.end(), [&](const reach& g) {
    return matches_any(g.sites, site) && matches_any(g.hosts, host);
  });
}

bool scope::covers_all() const {
  auto star = [](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), "*") != v.end();
  };
  return std::any_of(grants_.begin(), grants_.end(),
                     [&](const reach& g) { return star(g.sites) && star(g.hosts); });
}

bool scope::covers_site(const std::string& site) const {
  return std::any_of(grants_.begin(), grants_.end(),
                     [&](const reach& g) { return matches_any(g.sites, site); });
}

std::optional<std::vector<std::string>> scope::sites() const {
  std::set<std::string> out;
  for (const auto& g : grants_)
    for (const auto& s : g.sites) {
      if (is_glob(s)) return std::nullopt;
      out.insert(s);
    }
  return std::vector<std::string>{out.begin(), out.end()};
}

bool scope::all_hosts() const {
  return std::all_of(grants_.begin(), grants_.end(), [](const reach& g) {
    return std::find(g.hosts.begin(), g.hosts.end(), "*") != g.hosts.end();
  });
}

scope policy::scope_of(const identity& who, const std::string& action) const {
  std::vector<scope::reach> out;
  for (const auto& role : who.roles) {
    auto it = roles_.find(role);
    if (it == roles_.end()) continue;
    for (const auto& g : it->second)
      if (action.empty() || matches_any(g.actions, action)) out.push_back({g.sites, g.hosts});
  }
  return scope{std::move(out)};
}

caller_limits policy::limits_of(const identity& who, const std::string& action) const {
  caller_limits out;
  bool call_capped = true, hour_capped = true, any = false;
  for (const auto& role : who.roles) {
    auto it = roles_.find(role);
    if (it == roles_.end()) continue;
    if (std::none_of(it->second.begin(), it->second.end(),
                     [&](const grant& g) { return matches_any(g.actions, action); }))
      continue;
    any = true;
    auto q = quotas_.find(role);
    // The most generous role wins: one without a cap leaves the caller uncapped.
    auto widen = [&](const std::optional<std::int64_t>& cap, bool& capped,
                     std::optional<std::int64_t>& to, std::string& from) {
      if (!cap) {
        capped = false;
        return;
      }
      if (!to || *cap > *to) {
        to = cap;
        from = role;
      }
    };
    widen(q == quotas_.end() ? std::nullopt : q->second.hosts_per_call, call_capped,
          out.hosts_per_call, out.per_call_role);
    widen(q == quotas_.end() ? std::nullopt : q->second.hosts_per_hour, hour_capped,
          out.hosts_per_hour, out.per_hour_role);
  }
  if (!any || !call_capped) out.hosts_per_call.reset(), out.per_call_role.clear();
  if (!any || !hour_capped) out.hosts_per_hour.reset(), out.per_hour_role.clear();
  return out;
}

decision policy::allows(const identity& who, const operation& what) const {
  if (what.priority_class == "maas" && !who.maas)
    return {false, "the maas priority class is reserved for MaaS service accounts"};
  for (const auto& role : who.roles) {
    auto it = roles_.find(role);
    if (it == roles_.end()) continue;
    for (const auto& g : it->second)
      if (matches_any(g.actions, what.action) &&
          (what.site.empty() || matches_any(g.sites, what.site)) &&
          (what.host.empty() || matches_any(g.hosts, what.host)) &&
          (what.priority_class.empty() || matches_any(g.classes, what.priority_class)))
        return {true, "allowed by role " + role};
  }
  std::string what_text = "'" + what.action + "'";
  if (!what.host.empty()) what_text += " on host '" + what.host + "'";
  if (!what.site.empty()) what_text += " at site '" + what.site + "'";
  if (!what.priority_class.empty()) what_text += " with class '" + what.priority_class + "'";
  return {false, who.name + " (roles: " + (who.roles.empty() ? "none" : join(who.roles)) +
                     ") may not do " + what_text};
}

}  // namespace ab::auth
