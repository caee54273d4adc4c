#include "tools/abctl/options.hpp"

// The command line half of the options: commands, options and their checks.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"

namespace ab::abctl {

namespace {

using json = nlohmann::json;

caf::error bad(const std::string& what) {
  return make_error(errc::invalid_argument, what + " (see abctl --help)");
}

/// The commands and how many positional arguments each takes (after its name).
struct command_spec {
  std::size_t min_args, max_args;
};

const std::map<std::string, command_spec>& commands() {
  constexpr auto many = std::size_t(-1);
  static const std::map<std::string, command_spec> all{
      {"submit", {1, many}},    {"status", {1, many}},       {"list", {0, 0}},
      {"cancel", {1, many}},    {"watch", {0, many}},        {"hosts register", {0, 0}},
      {"hosts list", {0, 0}},   {"hosts show", {1, 1}},      {"cluster show", {0, 0}},
      {"cluster move", {2, 2}}, {"hold add", {1, many}},     {"hold lift", {1, many}},
      {"hold list", {0, 0}},    {"pause add", {2, 2}},       {"pause resume", {2, 2}},
      {"pause list", {0, 0}},   {"waves create", {1, many}}, {"waves list", {0, 0}},
      {"waves show", {1, 1}},   {"waves stop", {1, 1}}};
  return all;
}

caf::expected<double> seconds(const std::string& opt, const std::string& v) {
  std::size_t used = 0;
  double s = 0;
  try {
    s = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || !std::isfinite(s) || s < 0.01 || s > 86400)
    return bad(opt + " takes seconds from 0.01 to 86400, not '" + v + "'");
  return s;
}

std::chrono::milliseconds to_ms(double s) {
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(s * 1000))};
}

caf::expected<std::int64_t> integer(const std::string& opt, const std::string& v, std::int64_t lo,
                                    std::int64_t hi) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return bad(opt + " takes a whole number, not '" + v + "'");
  auto n = std::stoll(v);
  if (n < lo || n > hi)
    return bad(opt + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return n;
}

using setter = std::function<caf::error(command_line&, const std::string&)>;

/// One option: whether it takes a value, the commands it belongs to (none: global).
struct option_spec {
  bool takes_value;
  std::set<std::string> commands;
  setter set;
};

caf::error none() {
  return caf::error{};
}

const std::map<std::string, option_spec>& options() {
  static const std::set<std::string> watching{"submit", "watch"};
  static const std::set<std::string> listing{"list", "hosts list", "hold list"};
  static const std::set<std::string> submitting{"submit", "waves create"};
  static const std::set<std::string> sited{
      "list",         "hosts list",   "submit",    "hosts show", "hosts register",
      "cluster show", "cluster move", "hold add",  "hold lift",  "hold list",
      "pause add",    "pause resume", "pause list"};
  static const std::map<std::string, option_spec> all{
      {"--router",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          c.routers.push_back(v);
          return none();
        }}},
      {"--config",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          c.config_file = v;
          return none();
        }}},
      {"--token-file",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          c.token_file = v;
          return none();
        }}},
      {"--ca-file",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          c.ca_file = v;
          return none();
        }}},
      {"--output",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          if (v == "json")
            c.output = output_format::json;
          else if (v == "table")
            c.output = output_format::table;
          else
            return bad("--output takes table or json, not '" + v + "'");
          return none();
        }}},
      {"--timeout",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          auto s = seconds("--timeout", v);
          if (!s) return s.error();
          c.timeout = to_ms(*s);
          return none();
        }}},
      {"--retries",
       {true,
        {},
        [](command_line& c, const std::string& v) {
          auto n = integer("--retries", v, 0, 10);
          if (!n) return n.error();
          c.retries = static_cast<int>(*n);
          return none();
        }}},
      {"--help",
       {false,
        {},
        [](command_line& c, const std::string&) {
          c.help = true;
          return none();
        }}},
      {"--hosts-file",
       {true, submitting,
        [](command_line& c, const std::string& v) {
          c.hosts_file = v;
          return none();
        }}},
      {"--priority",
       {true, submitting,
        [](command_line& c, const std::string& v) {
          c.priority = v;
          return none();
        }}},
      {"--idempotency-key",
       {true,
        {"submit"},
        [](command_line& c, const std::string& v) {
          if (v.empty() || v.size() > 255)
            return bad("--idempotency-key takes 1 to 255 characters");
          for (unsigned char ch : v)
            if (ch < 0x21 || ch > 0x7e) return bad("--idempotency-key takes printable ASCII only");
          c.idempotency_key = v;
          return none();
        }}},
      {"--param",
       {true,
        {"submit"},
        [](command_line& c, const std::string& v) {
          auto eq = v.find('=');
          if (eq == 0 || eq == std::string::npos)
            return bad("--param takes KEY=VALUE, not '" + v + "'");
          c.params[v.substr(0, eq)] = v.substr(eq + 1);
          return none();
        }}},
      {"--params",
       {true,
        {"submit"},
        [](command_line& c, const std::string& v) {
          auto j = json::parse(v, nullptr, false);
          if (j.is_discarded() || !j.is_object()) return bad("--params takes a JSON object");
          c.params.update(j);
          return none();
        }}},
      {"--dry-run",
       {false, submitting,
        [](command_line& c, const std::string&) {
          c.dry_run = true;
          return none();
        }}},
      {"--confirm-hosts",
       {true, submitting,
        [](command_line& c, const std::string& v) {
          auto n = integer("--confirm-hosts", v, 0, 10000);
          if (!n) return n.error();
          c.confirm_hosts = *n;
          return none();
        }}},
      {"--max-unavailable",
       {true,
        {"waves create"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--max-unavailable", v, 1, 10000);
          if (!n) return n.error();
          c.max_unavailable = static_cast<int>(*n);
          return none();
        }}},
      {"--wave-size",
       {true,
        {"waves create"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--wave-size", v, 0, 10000);
          if (!n) return n.error();
          c.wave_size = static_cast<int>(*n);
          return none();
        }}},
      {"--pause",
       {true,
        {"waves create"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--pause", v, 0, 7 * 86400);
          if (!n) return n.error();
          c.pause_s = *n;
          return none();
        }}},
      {"--failure-threshold",
       {true,
        {"waves create"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--failure-threshold", v, 0, 100);
          if (!n) return n.error();
          c.failure_threshold = static_cast<int>(*n);
          return none();
        }}},
      {"--group-by",
       {true,
        {"waves create"},
        [](command_line& c, const std::string& v) {
          if (v != "rack" && v != "service_group")
            return bad("--group-by takes rack or service_group, not '" + v + "'");
          c.group_by = v;
          return none();
        }}},
      {"--watch",
       {false,
        {"submit"},
        [](command_line& c, const std::string&) {
          c.watch = true;
          return none();
        }}},
      {"--batch",
       {true,
        {"watch"},
        [](command_line& c, const std::string& v) {
          c.batch_file = v;
          return none();
        }}},
      {"--interval",
       {true, watching,
        [](command_line& c, const std::string& v) {
          auto s = seconds("--interval", v);
          if (!s) return s.error();
          c.interval = to_ms(*s);
          return none();
        }}},
      {"--max-wait",
       {true, watching,
        [](command_line& c, const std::string& v) {
          auto s = seconds("--max-wait", v);
          if (!s) return s.error();
          c.max_wait = to_ms(*s);
          return none();
        }}},
      {"--state",
       {true,
        {"list", "hosts list", "waves list"},
        [](command_line& c, const std::string& v) {
          c.state = v;
          return none();
        }}},
      {"--site",
       {true, sited,
        [](command_line& c, const std::string& v) {
          c.site = v;
          return none();
        }}},
      {"--host",
       {true,
        {"list"},
        [](command_line& c, const std::string& v) {
          c.host = v;
          return none();
        }}},
      {"--action",
       {true,
        {"list"},
        [](command_line& c, const std::string& v) {
          c.action_filter = v;
          return none();
        }}},
      {"--since",
       {true,
        {"list"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--since", v, 0, std::int64_t{1} << 53);
          if (!n) return n.error();
          c.since = *n;
          return none();
        }}},
      {"--cursor",
       {true,
        {"list"},
        [](command_line& c, const std::string& v) {
          auto n = integer("--cursor", v, 1, std::int64_t{1} << 62);
          if (!n) return n.error();
          c.cursor = v;
          return none();
        }}},
      {"--after",
       {true,
        {"hosts list", "hold list"},
        [](command_line& c, const std::string& v) {
          c.after = v;
          return none();
        }}},
      {"--limit",
       {true, listing,
        [](command_line& c, const std::string& v) {
          auto n = integer("--limit", v, 1, 1000);
          if (!n) return n.error();
          c.limit = static_cast<int>(*n);
          return none();
        }}},
      {"--all",
       {false, listing,
        [](command_line& c, const std::string&) {
          c.all = true;
          return none();
        }}},
      {"--reason",
       {true,
        {"hold add", "pause add"},
        [](command_line& c, const std::string& v) {
          c.reason = v;
          return none();
        }}},
      {"--note",
       {true,
        {"hold lift", "pause resume"},
        [](command_line& c, const std::string& v) {
          c.note = v;
          return none();
        }}},
      {"--file",
       {true,
        {"hosts register"},
        [](command_line& c, const std::string& v) {
          c.file = v;
          return none();
        }}},
  };
  return all;
}

/// Short spellings.
std::string long_name(const std::string& arg) {
  if (arg == "-h") return "--help";
  if (arg == "-o") return "--output";
  return arg;
}

caf::error take_positionals(command_line& cl, std::vector<std::string> pos) {
  if (pos.empty()) return cl.help ? caf::error{} : bad("no command given");
  std::string cmd = pos[0];
  std::size_t used = 1;
  if ((cmd == "hosts" || cmd == "cluster" || cmd == "hold" || cmd == "pause" || cmd == "waves")) {
    if (pos.size() < 2) return cl.help ? caf::error{} : bad(cmd + " needs a sub-command");
    cmd += " " + pos[1];
    used = 2;
  }
  auto it = commands().find(cmd);
  if (it == commands().end()) return bad("unknown command '" + cmd + "'");
  cl.command = cmd;
  std::vector<std::string> args(pos.begin() + static_cast<std::ptrdiff_t>(used), pos.end());
  if (cl.help) return caf::error{};
  if (args.size() < it->second.min_args) return bad(cmd + ": missing arguments");
  if (args.size() > it->second.max_args) return bad(cmd + ": too many arguments");
  if (cmd == "submit" || cmd == "waves create") {
    cl.action = args[0];
    cl.hosts.assign(args.begin() + 1, args.end());
    if (cl.hosts.empty() && cl.hosts_file.empty())
      return bad(cmd + " needs hosts: HOST... or --hosts-file FILE");
  } else if (cmd == "waves show" || cmd == "waves stop") {
    auto n = integer("a wave plan id", args[0], 1, std::int64_t{1} << 53);
    if (!n) return bad("'" + args[0] + "' is not a wave plan id");
    cl.ids.push_back(*n);
  } else if (cmd == "status" || cmd == "cancel" || cmd == "watch") {
    for (const auto& a : args) {
      auto n = integer("a request id", a, 1, std::int64_t{1} << 62);
      if (!n) return bad("'" + a + "' is not a request id");
      cl.ids.push_back(*n);
    }
    if (cmd == "watch" && cl.ids.empty() == cl.batch_file.empty())
      return bad("watch takes request ids or --batch FILE (one of the two)");
  } else if (cmd == "hosts show") {
    cl.name = args[0];
  } else if (cmd == "cluster move") {
    cl.node = args[0];
    cl.cluster = args[1];
  } else if (cmd == "hold add" || cmd == "hold lift") {
    cl.hosts = args;
    if (cmd == "hold add" && cl.reason.empty()) return bad("hold add needs --reason TEXT");
  } else if (cmd == "pause add" || cmd == "pause resume") {
    cl.scope = args[0];
    cl.target = args[1];
    if (cl.scope != "site" && cl.scope != "cluster" && cl.scope != "action")
      return bad(cmd + ": the scope is site, cluster or action, not '" + cl.scope + "'");
    if (cmd == "pause add" && cl.reason.empty()) return bad("pause add needs --reason TEXT");
  } else if (cmd == "hosts register" && cl.file.empty()) {
    return bad("hosts register needs --file FILE");
  }
  return caf::error{};
}

}  // namespace

std::string usage() {
  return R"(usage: abctl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]

Commands:
  submit ACTION HOST... | --hosts-file FILE   submit an action for one host or many
      [--priority maas|user|organic] [--idempotency-key KEY] [--param KEY=VALUE]...
      [--params JSON] [--watch [--interval S] [--max-wait S]]
      [--dry-run] [--confirm-hosts N]   (a destructive call on many hosts confirms their count)
  status ID...                     requests with their jobs
  list [--state S] [--host H] [--site S] [--action A] [--since EPOCH_MS]
       [--limit N] [--cursor C] [--all]
  cancel ID...                     cancel queued or running requests
  watch ID... | --batch FILE       live progress until every request ended
       [--interval S] [--max-wait S]   (FILE: what submit --output json printed, or ids)
  hosts register --file FILE       register hosts: a JSON array of host objects
  hosts list [--site S] [--state S] [--limit N] [--after NAME] [--all]
  hosts show NAME
  cluster show                     the routers' node table and the site's cluster map
  cluster move NODE CLUSTER        move a node to another cluster of the site's map
  hold add HOST... --reason TEXT   put hosts on hold: no request for them starts
  hold lift HOST... [--note TEXT]  lift their holds (audited)
  hold list [--limit N] [--after HOST] [--all]
  pause add SCOPE NAME --reason TEXT     pause a site, cluster or action: nothing new starts
  pause resume SCOPE NAME [--note TEXT]  resume it
  pause list
  waves create ACTION HOST... | --hosts-file FILE   a rolling action in waves
      [--max-unavailable N] [--group-by rack|service_group] [--wave-size N] [--pause S]
      [--failure-threshold PCT] [--confirm-hosts N] [--dry-run] [--priority P]
  waves list [--state running|stopped|succeeded]
  waves show ID                    a wave plan and its progress
  waves stop ID                    stop a wave plan (later waves never start)
  (submit, hosts, cluster, hold and pause take --site S: the site a router sends the call to)

Global options:
  --router URL        a router (or node) base URL; repeatable, tried in order with failover
                      (default: AB_ROUTERS, comma-separated, or "routers" of the config file)
  --config FILE       configuration file (default ~/.config/autobuild/abctl.json)
  --token-file FILE   bearer token, first line of a file private to its owner (or AB_TOKEN)
  --ca-file FILE      PEM CA bundle to check HTTPS routers against
  -o, --output table|json   human-readable tables (default) or JSON for scripts
  --timeout S         deadline of one HTTP exchange (default 30)
  --retries N         more rounds over the routers when none answered (default 2)
  -h, --help          this text

Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 not found, 4 authentication or permission,
5 no router reachable, 6 unexpected answer, 7 watch gave up (--max-wait).
)";
}

caf::expected<command_line> parse_command_line(const std::vector<std::string>& args) {
  command_line cl;
  std::vector<std::string> positional;
  std::vector<std::string> given;
  bool only_positional = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    auto name = long_name(arg);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos && name.rfind("--", 0) == 0) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "--token")
      return bad(
          "--token is refused: a token on the command line is visible to every user of the "
          "machine; use --token-file FILE or AB_TOKEN");
    auto it = options().find(name);
    if (it == options().end()) return bad("unknown option '" + arg + "'");
    const auto& spec = it->second;
    if (spec.takes_value && !value) {
      if (i + 1 >= args.size()) return bad(name + " needs a value");
      value = args[++i];
    } else if (!spec.takes_value && value) {
      return bad(name + " takes no value");
    }
    if (auto err = spec.set(cl, value.value_or(""))) return err;
    given.push_back(name);
  }
  if (auto err = take_positionals(cl, std::move(positional))) return err;
  for (const auto& name : given) {
    const auto& allowed = options().at(name).commands;
    if (!allowed.empty() && !allowed.count(cl.command))
      return bad(name + " is not an option of " + (cl.command.empty() ? "abctl" : cl.command));
  }
  return cl;
}

}  // namespace ab::abctl
