// A node process's incarnation: its exclusive claim to its node id, the expiry of the leases
// its dead predecessors hold, and the database clock its own clock is checked against.

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

/// Length in characters (UTF-8 code points), as the databases' SUBSTR counts.
std::int64_t chars(const std::string& s) {
  std::int64_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

/// The first line of `path`, "" if it cannot be read.
std::string first_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

/// When process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat), or ""
/// if there is no such process. With the pid, it names one process of one boot: a pid that
/// was reused has another start time.
std::string start_ticks(long pid) {
  auto stat = first_line("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields{stat.substr(close + 1)};
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return field;
  return {};
}

/// This host: its name and its boot's id (a host that rebooted has no process of before).
std::string this_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
  return std::string{name} + " boot " + first_line("/proc/sys/kernel/random/boot_id");
}

/// What the claim row says about the process that holds it: `HOST boot BOOT_ID pid PID start
/// TICKS`, which another process on the same host can check.
std::string this_process() {
  auto pid = static_cast<long>(::getpid());
  return this_host() + " pid " + std::to_string(pid) + " start " + start_ticks(pid);
}

/// True when `process` (as `this_process` wrote it) ran on this host and boot and is gone:
/// its id can be taken at once. A holder on another host is known dead only by its expiry.
bool gone_from_this_host(const std::string& process) {
  const auto host = this_host() + " pid ";
  if (process.rfind(host, 0) != 0) return false;
  std::istringstream rest{process.substr(host.size())};
  long pid = 0;
  std::string word, ticks;
  if (!(rest >> pid >> word >> ticks) || word != "start" || pid <= 0) return false;
  return start_ticks(pid) != ticks;
}

class sql_node_claim final : public node_claim {
 public:
  sql_node_claim(sql_store& store, node_claim_row row) : store_(store), row_(std::move(row)) {}
  ~sql_node_claim() override { store_.free_node_claim(row_); }
  sql_node_claim(const sql_node_claim&) = delete;
  sql_node_claim& operator=(const sql_node_claim&) = delete;

  bool refresh() override {
    auto held = store_.renew_node_claim(row_);
    // The database is away: the claim is not known lost. The next refresh tries again.
    return held ? *held : true;
  }

 private:
  sql_store& store_;
  node_claim_row row_;
};

}  // namespace

time_ms sql_store::database_now(connection& c) {
  auto expr = pool_->now_ms_sql();
  if (expr.empty()) return clock_->now();
  auto r = c.query("SELECT " + expr, {});
  if (!r->next()) throw db_error(db_error::kind::other, 0, "the database told no time");
  return r->i64(0);
}

caf::expected<std::unique_ptr<node_claim>> sql_store::claim_node(const std::string& node_id,
                                                                 const std::string& incarnation,
                                                                 time_ms ttl_ms) {
  if (node_id.empty()) return make_error(errc::invalid_argument, "a node needs an id");
  if (incarnation.empty() || ttl_ms <= 0)
    return make_error(errc::invalid_argument,
                      "a node id claim needs an incarnation and a lifetime");
  node_claim_row row{node_id, incarnation, this_process(), new_token(), ttl_ms};
  auto taken = transact("claim_node", [&](connection& c) -> caf::expected<bool> {
    return take_node_claim(c, row, true);
  });
  if (!taken) return taken.error();
  if (!*taken)
    return make_error(errc::conflict, "node id '" + node_id +
                                          "' was taken by another process at the same moment; "
                                          "give this node another --node-id");
  return std::unique_ptr<node_claim>{std::make_unique<sql_node_claim>(*this, std::move(row))};
}

caf::expected<bool> sql_store::take_node_claim(connection& c, const node_claim_row& row,
                                               bool refuse_loudly) {
  c.sync();
  auto r =
      c.query("SELECT token, incarnation, process, expires_at FROM node_claims WHERE node_id = ?" +
                  pool_->sql().for_update,
              {row.node_id});
  auto now = database_now(c);
  if (!r->next()) {
    r.reset();
    // A concurrent first claim of the id makes this INSERT a duplicate: the transaction runs
    // again and finds its row.
    c.execute(
        "INSERT INTO node_claims (node_id, token, incarnation, process, claimed_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        {row.node_id, row.token, row.incarnation, row.process, now, now + row.ttl_ms});
    return true;
  }
  auto token = r->i64(0);
  auto incarnation = r->text(1);
  auto process = r->text(2);
  auto expires_at = r->i64(3);
  r.reset();
  // This claim's own row: a COMMIT whose answer was lost had taken it.
  if (token == row.token) return true;
  if (token != 0 && expires_at >= now && !gone_from_this_host(process)) {
    if (!refuse_loudly) return false;
    return make_error(errc::conflict,
                      "node id '" + row.node_id +
                          "' is in use by another live process on this site database "
                          "(incarnation " +
                          incarnation + ", " + process + ", its claim expires in " +
                          std::to_string((expires_at - now + 999) / 1000) +
                          " s unless renewed); give this node another --node-id");
  }
  if (token != 0)
    log_->warn("node id {}: taking over the claim of incarnation {} ({}), which {}", row.node_id,
               incarnation, process, expires_at < now ? "expired" : "is no longer running");
  // On the old token: two processes taking over at once through two Galera nodes conflict at
  // certification, and the one that runs again finds the other's claim.
  auto n = c.execute(
      "UPDATE node_claims SET token = ?, incarnation = ?, process = ?, claimed_at = ?, "
      "expires_at = ? WHERE node_id = ? AND token = ?",
      {row.token, row.incarnation, row.process, now, now + row.ttl_ms, row.node_id, token});
  return n == 1;
}

caf::expected<bool> sql_store::renew_node_claim(const node_claim_row& row) {
  return transact("renew_node_claim", [&](connection& c) -> caf::expected<bool> {
    auto now = database_now(c);
    auto n = c.execute("UPDATE node_claims SET expires_at = ? WHERE node_id = ? AND token = ?",
                       {now + row.ttl_ms, row.node_id, row.token});
    if (n == 1) return true;
    // Not ours any more. Freed (by hand) or expired and never taken: take it again; taken by
    // another process: this one must stop.
    return take_node_claim(c, row, false);
  });
}

void sql_store::free_node_claim(const node_claim_row& row) noexcept {
  try {
    auto res = transact("free_node_claim", [&](connection& c) -> caf::expected<std::uint64_t> {
      return c.execute(
          "UPDATE node_claims SET token = 0, expires_at = 0 WHERE node_id = ? AND token = ?",
          {row.node_id, row.token});
    });
    // Unreachable database: the claim expires on its own.
    (void)res;
  } catch (...) {
  }
}

caf::expected<std::size_t> sql_store::expire_predecessors(const std::string& node_id,
                                                          const std::string& incarnation) {
  if (node_id.empty() || incarnation.empty())
    return make_error(errc::invalid_argument,
                      "expire_predecessors needs a node id and incarnation");
  auto any = node_id + "@";
  auto mine = owner_prefix(node_id, incarnation);
  auto legacy = node_id + "/";
  return transact("expire_predecessors", [&](connection& c) -> caf::expected<std::size_t> {
    return c.execute(
        "UPDATE jobs SET lease_expires_at = 0, due_at = 0 WHERE state = 'running' AND "
        "((SUBSTR(lease_owner, 1, ?) = ? AND SUBSTR(lease_owner, 1, ?) <> ?) "
        "OR SUBSTR(lease_owner, 1, ?) = ?)",
        {chars(any), any, chars(mine), mine, chars(legacy), legacy});
  });
}

caf::expected<time_ms> sql_store::database_time() {
  auto expr = pool_->now_ms_sql();
  if (expr.empty()) return clock_->now();
  return transact("database_time", [&](connection& c) -> caf::expected<time_ms> {
    auto r = c.query("SELECT " + expr, {});
    if (!r->next()) return make_error(errc::store_failure, "the database told no time");
    return r->i64(0);
  });
}

}  // namespace ab::storage::detail
