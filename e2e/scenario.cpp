#include "e2e/scenario.hpp"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "e2e/collect.hpp"
#include "e2e/invariants.hpp"
#include "e2e/workload.hpp"
#include "harness/child_process.hpp"
#include "harness/deployment.hpp"
#include "harness/galera_cluster.hpp"
#include "harness/http_exchange.hpp"
#include "storage/store.hpp"

namespace ab::e2e {

namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::vector<std::string> site_names{"dc-a", "dc-b"};
const std::vector<std::string> cluster_names{"build", "discover", "others"};
/// Every action the clients submit: the run fails unless each one succeeded at least once.
const std::vector<std::string> workload_actions{"discover", "build",       "reimage", "power_off",
                                                "power_on", "ipmi_reboot", "wipe"};

/// The BMC faults set before the work, by host number within each site.
const std::vector<std::pair<std::size_t, json>>& bmc_fault_plan() {
  static const std::vector<std::pair<std::size_t, json>> plan{
      {3, {{"error_rate", 0.5}}},    {7, {{"error_rate", 0.3}}},    {11, {{"hang", true}}},
      {13, {{"drop", true}}},        {5, {{"install_lost", true}}}, {9, {{"install_lost", true}}},
      {15, {{"install_fail", true}}}};
  return plan;
}

/// Whether host number `n` of a site starts the run already built (in service): two hosts in
/// three, and every host with a BMC fault, so that reimages, reboots and wipes (and the
/// faults' effect on them) start at once, while a third of the fleet is new inventory that is
/// discovered and built.
bool starts_built(std::size_t n) {
  for (const auto& [k, f] : bmc_fault_plan())
    if (k == n) return true;
  return n % 3 != 0;
}

/// The options every node of the run gets: quick recovery and short BMC timeouts, so that
/// each fault's consequences (a lease to take back, a lost callback, a dead BMC) play out
/// within the run rather than over the production defaults' minutes.
std::vector<std::string> node_options(const std::string& policy, bool full) {
  return {"--poll-interval-ms",
          "50",
          "--idle-poll-max-ms",
          "250",
          "--lease-ms",
          "6000",
          "--renew-interval-ms",
          "1500",
          "--recovery-interval-ms",
          "500",
          "--install-timeout-ms",
          full ? "20000" : "5000",
          "--bmc-timeout-ms",
          "2000",
          "--bmc-breaker-open-ms",
          "1000",
          "--bmc-retry-base-ms",
          "200",
          "--bmc-retry-max-ms",
          "1000",
          "--bmc-retry-budget-ms",
          "3000",
          "--retry-backoff-ms",
          "200",
          "--cluster-map-poll-ms",
          "300",
          "--drain-timeout-ms",
          "2000",
          "--store-pool-size",
          "4",
          "--policy",
          policy};
}

/// The access policy: the run's account may do everything (at `maas` priority too); the
/// reloaded one adds an auditor.
std::string policy_text(const std::string& digest, const std::string& auditor_digest) {
  json accounts{{"e2e", {{"token_sha256", digest}, {"roles", {"admin"}}, {"type", "maas"}}}};
  json roles{{"admin", json::array({{{"actions", {"*"}}}})}};
  if (!auditor_digest.empty()) {
    accounts["e2e-auditor"] = {{"token_sha256", auditor_digest}, {"roles", {"auditor"}}};
    roles["auditor"] = json::array({{{"actions", {"read", "audit.read"}}}});
  }
  return json{{"accounts", accounts}, {"roles", roles}, {"confirm_above", 1000}}.dump(1);
}

/// Everything the fault schedule keeps track of.
struct run_state {
  harness::deployment& d;
  std::ostream& out;
  steady::time_point t0 = steady::now();
  std::size_t faults = 0;
  /// What went wrong with the faults themselves (a verb that failed, a reload not in force).
  std::vector<std::string> failures{};
  std::vector<expected_audit> audits{};
  /// The live node of each (site, cluster).
  std::map<std::pair<std::string, std::string>, std::string> current{};
  std::string auth{};

  double elapsed() const { return std::chrono::duration<double>(steady::now() - t0).count(); }

  void fault(const std::string& what) {
    ++faults;
    char at[32];
    std::snprintf(at, sizeof at, "[%6.1fs] ", elapsed());
    out << at << "fault " << faults << ": " << what << "\n" << std::flush;
  }
  void failed(const std::string& what) {
    failures.push_back(what);
    out << "  FAILED: " << what << "\n" << std::flush;
  }
  bool verb(bool ok, const std::string& what) {
    if (!ok) failed(what + ": " + d.error());
    return ok;
  }
};

/// Sets fault `faults` on BMC `host` of `site`'s fleet.
bool set_bmc_fault(run_state& s, const std::string& site, const std::string& host,
                   const json& faults) {
  auto r = harness::http_exchange(s.d.bmcsim_port(site), "POST", "/sim/bmc/" + host + "/faults",
                                  faults.dump());
  s.fault("BMC " + host + ": " + faults.dump());
  if (r.status != 200) s.failed("setting faults on " + host + ": HTTP " + std::to_string(r.status));
  return r.status == 200;
}

/// BMC faults on a few hosts of each site: errors, a hang, a dead BMC, lost and failed
/// installer callbacks. Returns the hosts touched, to heal at the end.
std::vector<std::pair<std::string, std::string>> inject_bmc_faults(run_state& s) {
  std::vector<std::pair<std::string, std::string>> touched;
  for (const auto& site : site_names) {
    auto hosts = s.d.hosts(site);
    if (hosts.size() < 16) continue;
    for (const auto& [n, f] : bmc_fault_plan())
      if (set_bmc_fault(s, site, hosts[n], f)) touched.emplace_back(site, hosts[n]);
  }
  return touched;
}

/// SIGKILLs the `round`-th node in turn (every site and cluster), with work in flight; even
/// rounds bring it back under the same id, odd rounds start a new node id in its place.
void kill_a_node(run_state& s, int round) {
  std::vector<std::pair<std::string, std::string>> slots;
  for (const auto& c : cluster_names)
    for (const auto& site : site_names) slots.emplace_back(site, c);
  auto slot = slots[static_cast<std::size_t>(round) % slots.size()];
  auto id = s.current[slot];
  bool same = round % 2 == 0;
  s.fault("SIGKILL node " + id +
          (same ? ", restarted with the same id" : ", replaced by a new id"));
  if (!s.verb(s.d.kill_node(id), "killing " + id)) return;
  if (same) {
    s.verb(s.d.restart_node(id), "restarting " + id);
    return;
  }
  auto fresh = s.d.add_node(slot.first, slot.second);
  if (s.verb(!fresh.empty(), "starting a node in place of " + id)) {
    s.current[slot] = fresh;
    s.out << "  new node " << fresh << "\n";
  }
}

/// Moves node `node` of `site` to `cluster` through HAProxy and a router, as an operator does.
void remap(run_state& s, const std::string& site, const std::string& node,
           const std::string& cluster) {
  s.fault("cluster remap: " + node + " → " + cluster);
  harness::http_reply r;
  for (int i = 0; i < 20; ++i) {
    r = harness::http_exchange(s.d.port(), "POST", "/v1/cluster-map/moves?site=" + site,
                               json{{"node", node}, {"cluster", cluster}}.dump(),
                               s.auth + "Content-Type: application/json\r\n");
    if (r.status != 0 && r.status != 429 && r.status < 500) break;
    std::this_thread::sleep_for(250ms);
  }
  if (r.status != 200)
    s.failed("moving " + node + ": HTTP " + std::to_string(r.status) + " " + r.body);
  else
    s.audits.push_back({site, "cluster.write", "cluster-map"});
}

/// Rewrites the policy file with a second account, SIGHUPs every node, and checks that the
/// new account is accepted by each (the reload is in force) while the work goes on.
void reload_policy(run_state& s, const std::string& file, const std::string& digest) {
  auto token = auth::random_token(24);
  {
    std::ofstream out{file + ".new"};
    out << policy_text(digest, auth::sha256_hex(token));
  }
  std::filesystem::rename(file + ".new", file);
  s.fault("policy reload (SIGHUP to every node)");
  std::vector<std::string> nodes;
  for (const auto& site : site_names)
    for (const auto& id : s.d.nodes(site))
      if (s.d.node_running(id)) {
        s.verb(s.d.signal_node(id, SIGHUP), "SIGHUP to " + id);
        nodes.push_back(id);
      }
  for (const auto& id : nodes) {
    bool in_force = harness::poll_until(
        [&] {
          return harness::http_exchange(s.d.node_port(id), "GET", "/v1/audit?limit=1", "",
                                        "Authorization: Bearer " + token + "\r\n")
                     .status == 200;
        },
        15s);
    if (!in_force) s.failed("node " + id + " does not accept the reloaded policy's account");
  }
}

void print_figures(std::ostream& out, const workload_figures& f, double seconds) {
  out << "work: " << f.submissions << " submissions (" << f.bulk_submissions << " bulk), "
      << f.accepted << " requests accepted, " << f.refused << " refused, " << f.cancels
      << " cancelled by the clients, in " << static_cast<int>(seconds) << " s\n";
  out << "  accepted by action:";
  for (const auto& [a, n] : f.by_action) out << " " << a << "=" << n;
  out << "\n  ended as:";
  for (const auto& [st, n] : f.by_state) out << " " << st << "=" << n;
  out << "\n  client calls: retries=" << f.retries << " http_5xx=" << f.http_5xx
      << " no_answer=" << f.no_answer << " http_429=" << f.http_429 << "\n";
  for (const auto& x : f.first_5xx) out << "  5xx answer: " << x << "\n";
}

/// Re-registers the hosts of `names` in the store at `store_url` as already built (in
/// service): the API registers every host as `new`, and a host's state moves only with its
/// requests, so this is done in the store, before any work, as a migrated fleet would be.
caf::error register_as_built(const std::string& store_url, const std::vector<std::string>& names) {
  storage::store_options o;
  o.url = store_url;
  o.pool_size = 1;
  auto opened = storage::open_store(o, std::make_shared<system_clock>());
  if (!opened) return opened.error();
  auto& db = **opened;
  auto found = db.find_hosts(names);
  if (!found) return found.error();
  if (found->size() != names.size())
    return make_error(errc::not_found, std::to_string(names.size() - found->size()) +
                                           " of the hosts to start built are not registered");
  for (auto& h : *found) {
    if (auto err = db.delete_host(h.name)) return err;
    h.lifecycle_state = "in_service";
  }
  return db.put_hosts(*found);
}

/// The per-action table of the report: how the accepted requests of each action ended.
void print_actions(std::ostream& out, const std::map<std::string, action_tally>& tally) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-12s %9s %10s %7s %10s %11s\n", "action", "accepted",
                "succeeded", "failed", "cancelled", "unfinished");
  out << "actions (accepted requests, as stored):\n" << line;
  for (const auto& action : workload_actions) {
    auto it = tally.find(action);
    auto t = it == tally.end() ? action_tally{} : it->second;
    std::snprintf(line, sizeof line, "  %-12s %9zu %10zu %7zu %10zu %11zu\n", action.c_str(),
                  t.accepted, t.succeeded, t.failed, t.cancelled, t.other);
    out << line;
  }
}

std::string load_average() {
  double l[3] = {0, 0, 0};
  if (::getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace

std::string usage() {
  return "usage: ab-e2e [--full] [--galera] [--hosts N] [--seconds S] [--clients N] [--seed N]\n"
         "              [--dir DIR] [--keep] [--binary-dir DIR] [--source-dir DIR]\n"
         "Starts a two-site deployment on loopback (HAProxy, 2 routers, nodes in the build,\n"
         "discover and others clusters of each site, a MariaDB per site or Galera with\n"
         "--galera, an ab-bmcsim fleet per site), makes work flow through HAProxy while it\n"
         "injects faults, then checks the invariants over the stores and the simulators'\n"
         "records, and that the run exercised every action of the lifecycle (each one\n"
         "succeeded at least once) and a lost installer callback (a request failed at its\n"
         "install deadline). Ends with: e2e: accepted=N terminal=N lost=0 double_runs=0\n"
         "out_of_order=0 faults=F; exits 1 on any violation (docs/e2e.md).\n"
         "  --full         the full size: 2000 hosts per site, Galera, 120 s of work\n"
         "  --galera       each site's database is a 3-node Galera cluster\n"
         "  --hosts N      hosts per site (smoke 150)\n"
         "  --seconds S    the shortest work period (smoke 20); it goes on, up to 2.5 × S\n"
         "                (3 × S in --full), until every action has been seen succeeding\n"
         "  --clients N    client threads (8)\n"
         "  --seed N       the clients' and faults' random seed (1)\n"
         "  --dir DIR      the run's files (default: a temp directory, kept on failure)\n"
         "  --keep         keep the run's files\n";
}

caf::expected<scenario_options> parse_arguments(const std::vector<std::string>& args) {
  scenario_options o;
  auto number = [&](std::size_t& i, const std::string& name) -> caf::expected<long> {
    if (i + 1 >= args.size()) return make_error(errc::invalid_argument, name + " needs a value");
    const auto& v = args[++i];
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > 1'000'000)
      return make_error(errc::invalid_argument, name + ": expected a number, got '" + v + "'");
    return n;
  };
  auto text = [&](std::size_t& i, const std::string& name) -> caf::expected<std::string> {
    if (i + 1 >= args.size()) return make_error(errc::invalid_argument, name + " needs a value");
    return args[++i];
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--full") {
      o.full = true;
    } else if (a == "--galera") {
      o.galera = true;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--hosts" || a == "--seconds" || a == "--clients" || a == "--seed") {
      auto n = number(i, a);
      if (!n) return n.error();
      if (a == "--hosts") o.hosts = static_cast<std::size_t>(*n);
      if (a == "--seconds") o.seconds = static_cast<int>(*n);
      if (a == "--clients") o.clients = static_cast<int>(*n);
      if (a == "--seed") o.seed = static_cast<std::uint64_t>(*n);
    } else if (a == "--dir" || a == "--binary-dir" || a == "--source-dir") {
      auto v = text(i, a);
      if (!v) return v.error();
      (a == "--dir" ? o.dir : a == "--binary-dir" ? o.binary_dir : o.source_dir) = *v;
    } else {
      return make_error(errc::invalid_argument, "unknown argument '" + a + "' (see --help)");
    }
  }
  if (o.full) o.galera = true;
  if (o.hosts == 0) o.hosts = o.full ? 2000 : 150;
  if (o.hosts < 16) return make_error(errc::invalid_argument, "--hosts: at least 16 per site");
  if (o.seconds == 0) o.seconds = o.full ? 120 : 20;
  if (o.clients == 0) o.clients = 8;
  return o;
}

int run_scenario(const scenario_options& o, std::ostream& out) {
  auto started = steady::now();
  harness::deployment_spec spec;
  spec.binary_dir = o.binary_dir;
  spec.source_dir = o.source_dir;
  spec.dir = o.dir;
  spec.keep_dir = true;
  if (spec.dir.empty()) {
    auto tmpl = (std::filesystem::temp_directory_path() / "ab-e2e-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      out << "ab-e2e: cannot make a directory under the temp directory\n";
      return 2;
    }
    spec.dir = tmpl;
  }
  std::filesystem::create_directories(spec.dir);
  // Routers leave a dead node out quickly; HAProxy and the nodes' heartbeats as deployed.
  spec.router_args = {"--freshness-ms", "3000"};
  spec.heartbeat_interval_ms = 300;
  // As deployed: an installer's callback must survive the SIGKILL of the node that started it.
  spec.callbacks_through_entry = true;
  auto token = auth::random_token(24);
  auto digest = auth::sha256_hex(token);
  auto policy = spec.dir + "/policy.json";
  { std::ofstream{policy} << policy_text(digest, ""); }
  spec.api_auth = "Authorization: Bearer " + token + "\r\n";
  auto time_scale = o.full ? "0.05" : "0.02";
  for (std::size_t k = 0; k < site_names.size(); ++k) {
    harness::site_spec s;
    s.name = site_names[k];
    s.id = static_cast<std::int64_t>(k + 1);
    s.database = o.galera ? harness::site_database::galera : harness::site_database::mariadb;
    s.hosts = o.hosts;
    s.bmcsim_args = {"--time-scale", time_scale, "--seed", std::to_string(o.seed + k),
                     "--hang-ms",    "30000"};
    s.nodes = {{"build", 1}, {"discover", 1}, {"others", 1}};
    s.node_args = node_options(policy, o.full);
    spec.sites.push_back(std::move(s));
  }
  out << "ab-e2e: " << (o.full ? "full" : "smoke") << " size: 2 sites × " << o.hosts << " hosts, "
      << (o.galera ? "Galera" : "MariaDB") << ", " << o.seconds << " s of work, " << o.clients
      << " clients; files in " << spec.dir << "\n"
      << std::flush;
  harness::deployment d{spec};
  if (!d.ok()) {
    out << "ab-e2e: the deployment did not start: " << d.error() << "\n";
    return 2;
  }
  auto up = std::chrono::duration<double>(steady::now() - started).count();
  out << "deployment up in " << static_cast<int>(up) << " s: HAProxy " << d.url() << ", "
      << d.processes().size() << " processes\n"
      << std::flush;

  run_state s{d, out};
  s.auth = spec.api_auth;
  for (const auto& site : site_names)
    for (const auto& c : cluster_names) s.current[{site, c}] = site + "-" + c + "-1";

  // Two hosts in three start already built, so that the whole lifecycle runs from the start.
  std::set<std::string> built;
  std::vector<std::string> install_lost, install_fail;
  for (const auto& site : site_names) {
    auto hosts = d.hosts(site);
    std::vector<std::string> names;
    for (std::size_t n = 0; n < hosts.size(); ++n)
      if (starts_built(n)) names.push_back(hosts[n]);
    if (auto err = register_as_built(d.store_url(site), names)) {
      out << "ab-e2e: registering " << site << "'s hosts as built: " << message_of(err) << "\n";
      return 2;
    }
    built.insert(names.begin(), names.end());
    for (const auto& [n, f] : bmc_fault_plan())
      if (f.contains("install_lost") && n < hosts.size()) install_lost.push_back(hosts[n]);
    for (const auto& [n, f] : bmc_fault_plan())
      if (f.contains("install_fail") && n < hosts.size()) install_fail.push_back(hosts[n]);
  }
  out << built.size() << " hosts start in service, " << 2 * o.hosts - built.size() << " new\n";

  auto healed = inject_bmc_faults(s);
  workload_options w;
  w.port = d.port();
  w.auth = spec.api_auth;
  for (const auto& site : site_names)
    for (const auto& h : d.hosts(site)) w.hosts.push_back(h);
  w.started_further = built;
  w.install_hosts = {install_lost.begin(), install_lost.end()};
  w.install_hosts.insert(install_fail.begin(), install_fail.end());
  w.clients = o.clients;
  w.seed = o.seed;
  w.in_flight = o.full ? 100 : 20;
  workload work{w};

  // The fault schedule, on this thread (the processes it restarts are its children). Each
  // fault has its share `at` of the work period, and fires once that share of the period has
  // passed and that share of the progress goal (requests ended, as the clients saw them) is
  // reached — so that on a slow machine the faults still fall among builds, reimages and
  // wipes rather than all within discovery — or, at the latest, at that share of the cap.
  const double period = o.seconds;
  const double cap = o.full ? 3.0 * o.seconds : 2.5 * o.seconds;
  const double progress_goal = static_cast<double>(o.hosts);
  struct step {
    double at;
    std::function<void()> act;
  };
  int kills = 0;
  int galera_killed = 1;
  std::vector<step> plan;
  for (double at : {0.10, 0.22, 0.40, 0.58, 0.70, 0.85})
    plan.push_back({at, [&] { kill_a_node(s, kills++); }});
  plan.push_back({0.30, [&] { remap(s, "dc-a", s.current[{"dc-a", "discover"}], "others"); }});
  plan.push_back({0.62, [&] { remap(s, "dc-a", s.current[{"dc-a", "discover"}], "discover"); }});
  plan.push_back({0.35, [&] {
                    s.fault("SIGKILL router 0");
                    s.verb(d.kill_router(0), "killing router 0");
                  }});
  plan.push_back({0.55, [&] {
                    s.fault("router 0 restarted");
                    s.verb(d.restart_router(0), "restarting router 0");
                  }});
  plan.push_back({0.45, [&] {
                    if (o.galera) {
                      auto* g = d.galera("dc-a");
                      int writer = g ? g->writer() : 1;
                      s.fault("SIGKILL Galera node " + std::to_string(writer) +
                              " of dc-a (the writer)");
                      s.verb(d.kill_database("dc-a", writer), "killing a Galera node");
                      galera_killed = writer > 0 ? writer : 1;
                    } else {
                      s.fault("SIGKILL dc-a's MariaDB, then started again");
                      s.verb(d.kill_database("dc-a"), "killing MariaDB") &&
                          s.verb(d.restart_database("dc-a"), "restarting MariaDB");
                    }
                  }});
  if (o.galera)
    plan.push_back({0.75, [&] {
                      int n = galera_killed;
                      s.fault("Galera node " + std::to_string(n) + " of dc-a restarted");
                      s.verb(d.restart_database("dc-a", n), "restarting a Galera node");
                    }});
  plan.push_back({0.50, [&] { reload_policy(s, policy, digest); }});
  std::sort(plan.begin(), plan.end(), [](const step& a, const step& b) { return a.at < b.at; });

  auto work_start = steady::now();
  auto since_work = [&] {
    return std::chrono::duration<double>(steady::now() - work_start).count();
  };
  auto ended = [&] { return static_cast<double>(work.figures().ended()); };
  for (const auto& p : plan) {
    while (since_work() < p.at * cap &&
           (since_work() < p.at * period || ended() < p.at * progress_goal))
      std::this_thread::sleep_for(50ms);
    p.act();
  }
  // The work period ends once every action has been seen succeeding and a lost callback has
  // failed a request at its install deadline (as the clients saw them end), or at the cap.
  std::vector<violation> gaps;
  for (;;) {
    gaps = coverage(work.accepted(), work.finished(), workload_actions, install_lost, install_fail);
    if (since_work() >= cap || (since_work() >= period && gaps.empty())) break;
    std::this_thread::sleep_for(250ms);
  }
  work.stop_submitting();
  out << "[" << static_cast<int>(s.elapsed()) << "s] submissions stop after "
      << static_cast<int>(since_work()) << " s of work ("
      << (gaps.empty() ? "every action seen succeeding"
                       : "the cap reached, " + std::to_string(gaps.size()) + " coverage gap(s)")
      << "); " << work.in_flight() << " requests in flight; BMC faults healed\n";
  // Not yet a failure: what is in flight may still cover it; the stores decide at the end.
  for (const auto& g : gaps) out << "  not seen yet: " << g.detail << "\n";
  out << std::flush;
  // The broken BMCs come back (as repaired hardware does): what waits on them can end.
  for (const auto& [site, host] : healed)
    harness::http_exchange(d.bmcsim_port(site), "DELETE", "/sim/bmc/" + host + "/faults");
  const std::int64_t drain_ms = o.full ? 600'000 : 60'000;
  bool drained = work.finish(drain_ms);
  double worked = since_work();
  if (!drained)
    s.failed("requests still in flight after " + std::to_string(drain_ms / 1000) + " s");

  run_records records;
  records.accepted = work.accepted();
  records.audit_expected = s.audits;
  records.actions_expected = workload_actions;
  records.install_lost_hosts = install_lost;
  records.install_fail_hosts = install_fail;
  std::vector<site_source> sources;
  for (const auto& site : site_names)
    sources.push_back({site, d.store_url(site), d.bmcsim_port(site)});
  if (auto err = collect(sources, records)) {
    out << "ab-e2e: reading the records: " << message_of(err) << "\n";
    return 2;
  }
  auto v = check(records);
  print_figures(out, work.figures(), worked);
  print_actions(out, tally_actions(records.accepted, records.requests));
  // An install of a healthy host that failed at its deadline is a callback that got lost on
  // the way (to a node that died, say): shown apart from the injected losses.
  std::size_t at_deadline = 0, healthy_at_deadline = 0;
  for (const auto& q : records.requests)
    if (q.state == "failed" && q.error.find(install_deadline_reason) != std::string::npos) {
      ++at_deadline;
      if (std::find(install_lost.begin(), install_lost.end(), q.host) == install_lost.end())
        ++healthy_at_deadline;
    }
  out << "  failed at their install deadline: " << at_deadline << ", " << healthy_at_deadline
      << " of them on hosts whose callbacks were not lost (lost on";
  for (const auto& h : install_lost) out << " " << h;
  out << ")\n";
  // Why requests failed, each reason once with its count (numbers folded), to tell a fault's
  // expected effect from a failure of a healthy host.
  std::map<std::string, std::pair<std::size_t, std::string>> reasons;
  for (const auto& q : records.requests) {
    if (q.state != "failed") continue;
    std::string shape;
    for (char ch : q.error.substr(0, q.error.find(" (last held by")).substr(0, 160))
      if (!(ch >= '0' && ch <= '9') || shape.empty() || shape.back() != 'N')
        shape += ch >= '0' && ch <= '9' ? 'N' : ch;
    auto& r = reasons[q.action + ": " + shape];
    if (r.first++ < 4) r.second += (r.second.empty() ? "" : " ") + q.host;
  }
  for (const auto& [why, seen] : reasons)
    out << "  failed " << seen.first << "× " << why << " [" << seen.second << "]\n";
  std::size_t actions = 0;
  for (const auto& [bmc, list] : records.bmc_actions) actions += list.size();
  out << "records: " << records.requests.size() << " stored requests, " << actions
      << " BMC actions on " << records.bmc_actions.size() << " BMCs\n";
  out << "processes at the end:";
  for (const auto& p : d.processes()) out << " [" << p.name << "]";
  out << "\nload average: " << load_average() << "; whole run "
      << static_cast<int>(std::chrono::duration<double>(steady::now() - started).count()) << " s\n";
  for (const auto& f : s.failures) out << "fault failure: " << f << "\n";
  std::size_t shown = 0;
  for (const auto& x : v.violations)
    if (++shown <= 50) out << "violation " << x.kind << ": " << x.detail << "\n";
  if (v.violations.size() > shown) out << "... " << v.violations.size() - 50 << " more\n";
  bool ok = v.ok() && s.failures.empty() && v.accepted > 0;
  if (v.accepted == 0) out << "violation: no request was accepted\n";
  out << summary_line(v, s.faults) << "\n" << std::flush;
  d.stop();
  if (ok && !o.keep && o.dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(spec.dir, ignored);
  } else if (!ok) {
    out << "ab-e2e: files kept in " << spec.dir << " (node-*.log, router-*.log, */bmcsim.log)\n";
  }
  return ok ? 0 : 1;
}

}  // namespace ab::e2e
