// The site a database belongs to, and the block its request ids come from.

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

/// The id the next request will get if nothing moves it: one past the highest id given so far
/// (SQLite's `sqlite_sequence`, MariaDB's AUTO_INCREMENT counter), or past the highest id in the
/// table, whichever is larger.
std::int64_t next_request_id(connection& c, const dialect& d) {
  std::int64_t next = 1;
  auto max = c.query("SELECT COALESCE(MAX(id), 0) FROM requests", {});
  if (max->next()) next = max->i64(0) + 1;
  max.reset();
  if (d.name == "mysql") {
    auto r = c.query(
        "SELECT COALESCE(AUTO_INCREMENT, 1) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'requests'",
        {});
    if (r->next()) next = std::max(next, r->i64(0));
  } else {
    auto r = c.query("SELECT seq FROM sqlite_sequence WHERE name = 'requests'", {});
    if (r->next()) next = std::max(next, r->i64(0) + 1);
  }
  return next;
}

/// Makes the next request id at least `first`, never lowering it (a pruned id is never given
/// again).
void raise_next_request_id(connection& c, const dialect& d, std::int64_t first) {
  if (d.name == "mysql") {
    // DDL commits at once in MariaDB; two nodes doing this together set the same value.
    c.exec_raw("ALTER TABLE requests AUTO_INCREMENT = " + std::to_string(first));
    return;
  }
  // SQLite gives max(seq, max rowid) + 1 to an AUTOINCREMENT table; its row appears with the
  // first insert, so a fresh database has none yet.
  if (c.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'requests'", {first - 1}) == 0)
    c.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('requests', ?)", {first - 1});
}

}  // namespace

caf::error sql_store::bind_site(std::int64_t site_id) {
  if (site_id < 0 || site_id > max_site_id)
    return make_error(errc::bad_config, "site_id " + std::to_string(site_id) +
                                            " is out of range: expected 0 to " +
                                            std::to_string(max_site_id));
  auto bound = transact("bind site", [&](connection& c) -> caf::expected<std::int64_t> {
    auto r = c.query("SELECT site_id FROM site_identity WHERE singleton = 1", {});
    if (r->next()) return r->i64(0);
    r.reset();
    // A concurrent first start inserts too: one insert fails as a duplicate and its
    // transaction runs again, then reads the winner's row.
    c.execute("INSERT INTO site_identity (singleton, site_id, bound_at) VALUES (1, ?, ?)",
              {site_id, clock_->now()});
    return site_id;
  });
  if (!bound) return bound.error();
  if (*bound != site_id)
    return make_error(errc::bad_config,
                      "the site database belongs to site_id " + std::to_string(*bound) +
                          ", but this node is configured with site_id " + std::to_string(site_id) +
                          " (the site_id of a database never changes: its request ids come from "
                          "its block); set site_id " +
                          std::to_string(*bound) + " or point the node at its own site's store");
  const std::int64_t first = site_id * site_id_block + 1;
  const std::int64_t end = (site_id + 1) * site_id_block;
  auto moved = transact("move request ids into the site's block",
                        [&](connection& c) -> caf::expected<std::int64_t> {
                          auto next = next_request_id(c, pool_->sql());
                          if (next < first) raise_next_request_id(c, pool_->sql(), first);
                          return std::max(next, first);
                        });
  if (!moved) return moved.error();
  if (*moved >= end)
    return make_error(errc::bad_config, "the next request id " + std::to_string(*moved) +
                                            " lies beyond site_id " + std::to_string(site_id) +
                                            "'s block (" + std::to_string(first) + " to " +
                                            std::to_string(end - 1) + ")");
  return caf::none;
}

}  // namespace ab::storage::detail
