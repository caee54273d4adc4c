// A node process's incarnation: its exclusive claim to its node id, the expiry of the leases
// its dead predecessors hold, and the database clock its own clock is checked against.

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

class sql_node_claim final : public node_claim {
 public:
  explicit sql_node_claim(std::unique_ptr<held_lock> lock) : lock_(std::move(lock)) {}
  bool refresh() override {
    try {
      return lock_->refresh();
    } catch (const db_error&) {
      // The database is away; the claim is not known lost. The next refresh tries again.
      return true;
    }
  }

 private:
  std::unique_ptr<held_lock> lock_;
};

}  // namespace

caf::expected<std::unique_ptr<node_claim>> sql_store::claim_node(const std::string& node_id) {
  if (node_id.empty()) return make_error(errc::invalid_argument, "a node needs an id");
  try {
    auto lock = pool_->hold_lock("autobuild.node." + node_id);
    if (!lock)
      return make_error(errc::conflict, "node id '" + node_id +
                                            "' is in use by another live process on this site "
                                            "database; give this node another --node-id");
    return std::unique_ptr<node_claim>{std::make_unique<sql_node_claim>(std::move(lock))};
  } catch (const db_error& e) {
    return to_error(e, "claim_node");
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
