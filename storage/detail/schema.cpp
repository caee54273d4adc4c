#include "storage/detail/schema.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace ab::storage::detail {

namespace {

struct index_def {
  std::string name;
  std::string columns;
  bool unique = false;
};

struct table_def {
  std::string name;
  /// Column definitions; `{pk}` stands for the dialect's auto-incremented primary key type,
  /// `{id_pk}` for its assigned 64-bit primary key type.
  std::vector<std::string> columns;
  std::vector<index_def> indexes;
};

/// One schema version: tables created (if absent) and statements run after them. In a
/// statement `{if_not_exists}` is MariaDB's `IF NOT EXISTS` of ADD COLUMN (MySQL commits DDL at
/// once, so a migration repeated after a crash must skip what it already did; SQLite runs the
/// migration in one transaction and has no such clause).
///
/// From version 14 on a migration only expands
/// (docs/database.md#schema-migrations-and-rolling-upgrades): a contracting one (a drop, a rename,
/// a changed column) names in `compatible_since` the oldest schema version whose code still runs
/// once it is applied, and nodes of an older release refuse to start on it.
struct migration {
  int version;
  std::vector<table_def> tables;
  std::vector<std::string> statements = {};
  /// 0: expand-only, every release that ran on the schema before still does.
  int compatible_since = 0;
};

/// The first version written under the expand/contract rule, with its `compatible_since`.
constexpr int first_marked_version = 14;

/// Fills `park_locks` with its slots; `{insert_ignore}` keeps a repeated migration harmless.
std::string park_lock_rows() {
  std::string sql = "{insert_ignore} INTO park_locks (slot) VALUES ";
  for (int i = 0; i < park_lock_slots; ++i) sql += (i ? ",(" : "(") + std::to_string(i) + ")";
  return sql;
}

// Times are milliseconds since the epoch (BIGINT); 0 means "not yet". States are short
// lowercase words so that an operator can read the tables with plain SQL.
const std::vector<migration>& migrations() {
  static const std::vector<migration> all{
      {1,
       {
           {"requests",
            {"id {pk}", "action VARCHAR(64) NOT NULL", "host VARCHAR(255) NOT NULL",
             "site VARCHAR(64) NOT NULL", "priority_class VARCHAR(32) NOT NULL",
             "submitter VARCHAR(255) NOT NULL", "idempotency_key VARCHAR(255) NULL",
             "fingerprint VARCHAR(128) NOT NULL", "params TEXT NOT NULL",
             "state VARCHAR(16) NOT NULL", "error TEXT NULL",
             // Equals `host` while the request is active, NULL once terminal: the unique
             // index on it is what keeps one active request per host.
             "active_host VARCHAR(255) NULL", "chain_length INT NOT NULL",
             "created_at BIGINT NOT NULL", "started_at BIGINT NOT NULL DEFAULT 0",
             "finished_at BIGINT NOT NULL DEFAULT 0"},
            {{"requests_active_host", "active_host", true},
             {"requests_idempotency", "idempotency_key, host", true},
             {"requests_host", "host, id"},
             {"requests_state", "state, id"},
             {"requests_created", "created_at"}}},
           {"jobs",
            {// id = request_id * 64 + position: a chain's jobs are one id range and the next
             // job of a chain is id + 1.
             "id {id_pk}", "request_id BIGINT NOT NULL", "position INT NOT NULL",
             "type VARCHAR(64) NOT NULL", "host VARCHAR(255) NOT NULL",
             "action VARCHAR(64) NOT NULL", "priority_class VARCHAR(32) NOT NULL",
             "state VARCHAR(16) NOT NULL", "attempts INT NOT NULL DEFAULT 0",
             "max_attempts INT NOT NULL", "timeout_ms BIGINT NOT NULL DEFAULT 0",
             // Queue order: submission time minus the priority class's credit.
             "vdeadline BIGINT NOT NULL", "not_before BIGINT NOT NULL DEFAULT 0",
             "lease_owner VARCHAR(128) NULL", "lease_token BIGINT NOT NULL DEFAULT 0",
             "lease_expires_at BIGINT NOT NULL DEFAULT 0", "deadline BIGINT NOT NULL DEFAULT 0",
             // When recovery must look at a running or parked job: the earlier of its lease
             // expiry and its deadline. One index on it serves every recovery query.
             "due_at BIGINT NOT NULL DEFAULT 0", "park_key VARCHAR(255) NULL", "event TEXT NULL",
             "result TEXT NULL", "error TEXT NULL", "started_at BIGINT NOT NULL DEFAULT 0",
             "finished_at BIGINT NOT NULL DEFAULT 0"},
            // Few indexes on purpose: every state change rewrites each index that holds
            // `state`, and the claim/complete path is the hot one.
            {{"jobs_claim", "type, state, vdeadline, id"},
             {"jobs_due", "state, due_at"},
             {"jobs_park", "park_key", true}}},
           {"pending_events",
            {"event_key VARCHAR(255) NOT NULL PRIMARY KEY", "payload TEXT NOT NULL",
             "received_at BIGINT NOT NULL"},
            {}},
           {"hosts",
            {"name VARCHAR(255) NOT NULL PRIMARY KEY", "site VARCHAR(64) NOT NULL",
             "bmc_endpoint VARCHAR(512) NOT NULL", "credential_ref VARCHAR(255) NOT NULL",
             "lifecycle_state VARCHAR(32) NOT NULL", "facts MEDIUMTEXT NOT NULL",
             "created_at BIGINT NOT NULL", "updated_at BIGINT NOT NULL"},
            {{"hosts_site", "site, name"}, {"hosts_state", "lifecycle_state, name"}}},
           {"nodes",
            {"id VARCHAR(128) NOT NULL PRIMARY KEY", "site VARCHAR(64) NOT NULL",
             "cluster VARCHAR(64) NOT NULL", "address VARCHAR(255) NOT NULL",
             "last_seen BIGINT NOT NULL"},
            {}},
           {"audit",
            {"id {pk}", "at BIGINT NOT NULL", "actor VARCHAR(255) NOT NULL",
             "source VARCHAR(255) NOT NULL", "action VARCHAR(128) NOT NULL", "target TEXT NOT NULL",
             "decision VARCHAR(32) NOT NULL", "detail TEXT NOT NULL"},
            {{"audit_actor", "actor, id"}, {"audit_at", "at"}}},
       }},
      {2,
       {
           // One-time installer callback tokens, one per request; only their SHA-256 is kept.
           {"callbacks",
            {"request_id BIGINT NOT NULL PRIMARY KEY", "token_hash VARCHAR(64) NOT NULL",
             "event_key VARCHAR(255) NOT NULL", "expires_at BIGINT NOT NULL",
             "used_at BIGINT NOT NULL DEFAULT 0"},
            {}},
       }},
      {3,
       {},
       // Host lifecycle: the host's state before the request, and after it succeeds or fails
       // (empty: unchanged).
       {"ALTER TABLE requests ADD COLUMN {if_not_exists}host_state_before VARCHAR(32) NOT NULL "
        "DEFAULT ''",
        "ALTER TABLE requests ADD COLUMN {if_not_exists}host_state_on_success VARCHAR(32) NOT NULL "
        "DEFAULT ''",
        "ALTER TABLE requests ADD COLUMN {if_not_exists}host_state_on_failure VARCHAR(32) NOT NULL "
        "DEFAULT ''"}},
      {4,
       {},
       // Two hosts never name one BMC: a host writer must not borrow another host's BMC (and
       // the credentials it accepts). A database holding duplicates fails this migration with
       // the duplicate key named; give one of the hosts its own endpoint and start again.
       {"CREATE UNIQUE INDEX IF NOT EXISTS hosts_bmc_endpoint ON hosts (bmc_endpoint)"}},
      {5,
       {},
       // Sites as a boundary. A job carries its request's site, and the claim index leads with
       // it, so that a node claims only its site's jobs in queue order without a sort. An
       // idempotency key belongs to its submitter: one account's key never meets another's.
       // IF [NOT] EXISTS is MariaDB's and SQLite's, so a repeated migration skips what it did.
       {"ALTER TABLE jobs ADD COLUMN {if_not_exists}site VARCHAR(64) NOT NULL DEFAULT ''",
        // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement over two lines.
        "UPDATE jobs SET site = COALESCE((SELECT r.site FROM requests r WHERE r.id = "
        "jobs.request_id), '') WHERE site = ''",
        "CREATE INDEX IF NOT EXISTS jobs_claim_site ON jobs (type, site, state, vdeadline, id)",
        "DROP INDEX IF EXISTS jobs_claim{on jobs}",
        "CREATE UNIQUE INDEX IF NOT EXISTS requests_submitter_key ON requests "
        "(submitter, idempotency_key, host)",
        "DROP INDEX IF EXISTS requests_idempotency{on requests}"}},
      {6,
       {
           // The rows that park and wake of one event key lock before anything else, so that
           // whichever commits second sees what the first did (event keys hash onto them).
           {"park_locks", {"slot INT NOT NULL PRIMARY KEY"}, {}},
       },
       {park_lock_rows(),
        // Deferrals: waits for an outside party (a BMC's open circuit, a transient outage)
        // that spend no attempt; when the first of them began, for the retry budget.
        "ALTER TABLE jobs ADD COLUMN {if_not_exists}deferrals INT NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN {if_not_exists}deferred_since BIGINT NOT NULL DEFAULT 0"}},
      {7,
       {},
       // Retention (store::prune): finished requests by when they finished, pending events by
       // when they came (audit_at on audit(at) exists since version 1). IF NOT EXISTS is
       // MariaDB's and SQLite's, so a migration repeated after a crash skips what it did.
       {"CREATE INDEX IF NOT EXISTS requests_finished ON requests (finished_at)",
        "CREATE INDEX IF NOT EXISTS pending_events_received ON pending_events (received_at)"}},
      {8,
       {
           // The site this database belongs to (one row, written by the first node that starts
           // on it): its request ids come from the block site_id * 10^12 (sql_site.cpp).
           {"site_identity",
            {"singleton INT NOT NULL PRIMARY KEY", "site_id BIGINT NOT NULL",
             "bound_at BIGINT NOT NULL"},
            {}},
       }},
      {9,
       {
           // The site's one cluster map (row id 1), versioned: a change is a compare-and-set
           // on `version`, audited. Version 0 (the row as created) is "never set".
           {"cluster_map",
            {"id INT NOT NULL PRIMARY KEY", "version BIGINT NOT NULL",
             "document MEDIUMTEXT NOT NULL", "changed_at BIGINT NOT NULL",
             "changed_by VARCHAR(255) NOT NULL"},
            {}},
       },
       {"{insert_ignore} INTO cluster_map (id, version, document, changed_at, changed_by) "
        "VALUES (1, 0, '', 0, '')"}},
      {10,
       {
           // Holds (a host under maintenance) and pauses (a site, cluster or action): the
           // claim skips what they cover (sql_queue.cpp), so they outlive every node process.
           {"host_holds",
            {"host VARCHAR(255) NOT NULL PRIMARY KEY", "site VARCHAR(64) NOT NULL",
             "reason TEXT NOT NULL", "owner VARCHAR(255) NOT NULL", "created_at BIGINT NOT NULL"},
            {{"host_holds_site", "site, host"}}},
           {"pauses",
            {"scope VARCHAR(16) NOT NULL", "target VARCHAR(255) NOT NULL", "reason TEXT NOT NULL",
             "owner VARCHAR(255) NOT NULL", "created_at BIGINT NOT NULL",
             "PRIMARY KEY (scope, target)"},
            {}},
           // Pacing: the one row that claims starting paced work lock (so that two nodes
           // never both take a rack's last slot), and the recent power-ons of each site.
           {"pacing_lock", {"id INT NOT NULL PRIMARY KEY"}, {}},
           {"power_ons",
            {"id {pk}", "site VARCHAR(64) NOT NULL", "at BIGINT NOT NULL"},
            {{"power_ons_site", "site, at"}}},
       },
       {"{insert_ignore} INTO pacing_lock (id) VALUES (1)",
        // Where a host sits, for pacing per rack and per power domain (empty: unknown).
        "ALTER TABLE hosts ADD COLUMN {if_not_exists}rack VARCHAR(64) NOT NULL DEFAULT ''",
        "ALTER TABLE hosts ADD COLUMN {if_not_exists}power_domain VARCHAR(64) NOT NULL "
        "DEFAULT ''"}},
      {11,
       {
           // Quotas of destructive actions: one row per charge (who, how many hosts, when),
           // counted over the last hour by every node of the site; a charge locks its
           // subject's row first, so that two nodes cannot both spend the last of a quota.
           {"quota_subjects", {"subject VARCHAR(255) NOT NULL PRIMARY KEY"}, {}},
           {"quota_usage",
            {"id {pk}", "subject VARCHAR(255) NOT NULL", "action VARCHAR(64) NOT NULL",
             "hosts INT NOT NULL", "at BIGINT NOT NULL"},
            {{"quota_usage_subject", "subject, at"}}},
           // Waves: a rolling action over a set of hosts, its plan (which host goes in which
           // wave) and progress, advanced by one node of the site at a time (wave_lease).
           {"waves",
            {"id {pk}", "action VARCHAR(64) NOT NULL", "priority_class VARCHAR(32) NOT NULL",
             "state VARCHAR(16) NOT NULL", "created_by VARCHAR(255) NOT NULL",
             "created_at BIGINT NOT NULL", "updated_at BIGINT NOT NULL",
             "group_by VARCHAR(32) NOT NULL", "max_unavailable INT NOT NULL",
             "wave_size INT NOT NULL", "pause_ms BIGINT NOT NULL", "failure_threshold INT NOT NULL",
             "waves_total INT NOT NULL", "current_wave INT NOT NULL DEFAULT 0",
             "next_at BIGINT NOT NULL DEFAULT 0", "reason TEXT NOT NULL",
             "quota_per_hour BIGINT NOT NULL DEFAULT 0"},
            {{"waves_state", "state, id"}}},
           {"wave_hosts",
            {"wave_id BIGINT NOT NULL", "host VARCHAR(255) NOT NULL", "wave_no INT NOT NULL",
             "grp VARCHAR(255) NOT NULL", "request_id BIGINT NOT NULL DEFAULT 0",
             "state VARCHAR(16) NOT NULL", "error TEXT NOT NULL", "PRIMARY KEY (wave_id, host)"},
            {{"wave_hosts_wave", "wave_id, wave_no"}}},
           {"wave_lease",
            {"id INT NOT NULL PRIMARY KEY", "owner VARCHAR(128) NOT NULL",
             "expires_at BIGINT NOT NULL", "term BIGINT NOT NULL"},
            {}},
       },
       {"{insert_ignore} INTO wave_lease (id, owner, expires_at, term) VALUES (1, '', 0, 0)"}},
      {12,
       {
           // Which live process is each node id: a row per id that every Galera node sees
           // (GET_LOCK is local to one), held by a claim token until `expires_at` (database
           // time), renewed with the heartbeat, taken over once expired or once its process
           // is known dead. A token of 0 means free.
           {"node_claims",
            {"node_id VARCHAR(255) NOT NULL PRIMARY KEY", "token BIGINT NOT NULL",
             "incarnation VARCHAR(64) NOT NULL", "process VARCHAR(320) NOT NULL",
             "claimed_at BIGINT NOT NULL", "expires_at BIGINT NOT NULL"},
            {}},
       }},
      {13,
       {},
       // Turnaround estimates (lifecycle/eta.hpp): the estimate made at submission, kept to
       // measure it; the queued requests of a site and action by class and age, so that a
       // request's place in the claim order is an index range count; jobs by when they
       // finished, for the throughput of each job type.
       {"ALTER TABLE requests ADD COLUMN {if_not_exists}eta_at BIGINT NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS requests_queue ON requests "
        "(state, site, action, priority_class, created_at)",
        "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (type, site, finished_at)"}},
      {14,
       {},
       // Rolling upgrades: each migration from here on records the oldest schema version whose
       // code runs on the schema once it is applied (0: any; an expand-only migration).
       {"ALTER TABLE schema_migrations ADD COLUMN {if_not_exists}compatible_since INT NOT NULL "
        "DEFAULT 0"}},
  };
  return all;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

/// `{on TABLE}` of a DROP INDEX: MySQL names the table (`ON TABLE`), SQLite does not.
std::string on_table(std::string s, const dialect& d) {
  for (auto pos = s.find("{on "); pos != std::string::npos; pos = s.find("{on ", pos)) {
    auto end = s.find('}', pos);
    auto table = s.substr(pos + 4, end - pos - 4);
    s.replace(pos, end - pos + 1, d.name == "mysql" ? " ON " + table : "");
  }
  return s;
}

/// CREATE statements for one table: MySQL keeps indexes inside CREATE TABLE (so that
/// IF NOT EXISTS makes the whole table idempotent, also on MySQL 8, which lacks
/// CREATE INDEX IF NOT EXISTS); SQLite needs them as separate statements.
std::vector<std::string> create_statements(const table_def& t, const dialect& d) {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + t.name + " (";
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    sql += (i ? ", " : "") + replace_all(replace_all(t.columns[i], "{pk}", d.autoincrement_pk),
                                         "{id_pk}", d.bigint_pk);
  std::vector<std::string> out;
  if (d.name == "mysql") {
    for (const auto& ix : t.indexes)
      sql += std::string{", "} + (ix.unique ? "UNIQUE " : "") + "INDEX " + ix.name + " (" +
             ix.columns + ")";
    out.push_back(sql + ")" + d.table_options);
  } else {
    out.push_back(sql + ")" + d.table_options);
    for (const auto& ix : t.indexes)
      out.push_back(std::string{"CREATE "} + (ix.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
                    ix.name + " ON " + t.name + " (" + ix.columns + ")");
  }
  return out;
}

int current_version(connection& c) {
  auto r = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  return r->next() ? static_cast<int>(r->i64(0)) : 0;
}

/// The highest `compatible_since` of the migrations newer than `known` (0 before the column).
int compatible_since_above(connection& c, int version, int known) {
  if (version < first_marked_version) return 0;
  auto r =
      c.query("SELECT COALESCE(MAX(compatible_since), 0) FROM schema_migrations WHERE version > ?",
              {std::int64_t{known}});
  return r->next() ? static_cast<int>(r->i64(0)) : 0;
}

/// A statement of `m` as the dialect `d` runs it.
std::string rendered(const std::string& stmt, const dialect& d) {
  return on_table(
      replace_all(replace_all(stmt, "{if_not_exists}", d.name == "mysql" ? "IF NOT EXISTS " : ""),
                  "{insert_ignore}", d.name == "mysql" ? "INSERT IGNORE" : "INSERT OR IGNORE"),
      d);
}

}  // namespace

int latest_schema_version() {
  return migrations().back().version;
}

std::vector<migration_summary> migration_summaries() {
  std::vector<migration_summary> out;
  for (const auto& m : migrations()) {
    migration_summary s{m.version, m.compatible_since, {}, m.statements};
    for (const auto& t : m.tables) s.tables.push_back(t.name);
    out.push_back(std::move(s));
  }
  return out;
}

caf::expected<int> migrate(connection_pool& pool, time_ms now, int known_max) {
  auto known =
      known_max > 0 ? std::min(known_max, latest_schema_version()) : latest_schema_version();
  auto c = pool.acquire();
  pool.lock_migrations(*c);
  struct unlock_guard {
    connection_pool& p;
    connection& c;
    ~unlock_guard() { p.unlock_migrations(c); }
  } unlock{pool, *c};
  const auto& d = pool.sql();
  c->exec_raw(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, "
      "applied_at BIGINT NOT NULL)" +
      d.table_options);
  auto version = current_version(*c);
  if (version > known) {
    // A newer release migrated the schema: this one runs on it unless a migration it does not
    // know contracted the schema past what this release's code uses.
    auto since = compatible_since_above(*c, version, known);
    if (since > known)
      return make_error(errc::schema_too_new,
                        "database schema is at version " + std::to_string(version) +
                            ", which only releases that know schema version " +
                            std::to_string(since) +
                            " or later can use; this release knows versions up to " +
                            std::to_string(known) + ": upgrade this node");
    return version;
  }
  for (const auto& m : migrations()) {
    if (m.version <= version || m.version > known) continue;
    // MySQL commits DDL implicitly, so every statement is idempotent on its own and the
    // version row is written last: a crash mid-way repeats the migration safely.
    c->begin();
    try {
      for (const auto& t : m.tables)
        for (const auto& stmt : create_statements(t, d)) c->exec_raw(stmt);
      for (const auto& stmt : m.statements) c->exec_raw(rendered(stmt, d));
      if (m.version >= first_marked_version)
        c->execute(
            "INSERT INTO schema_migrations (version, applied_at, compatible_since) VALUES (?, ?, "
            "?)",
            {std::int64_t{m.version}, now, std::int64_t{m.compatible_since}});
      else
        c->execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                   {std::int64_t{m.version}, now});
      c->commit();
    } catch (...) {
      c->rollback();
      throw;
    }
    version = m.version;
    pool.extend_migrations_lock(*c);
  }
  return version;
}

}  // namespace ab::storage::detail
