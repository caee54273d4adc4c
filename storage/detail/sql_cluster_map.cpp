// The site's cluster map in the shared SQL store: one row, a compare-and-set on its version,
// an audit entry with every change.

#include "core/error.hpp"
#include "storage/detail/sql_store.hpp"

namespace ab::storage::detail {

namespace {

/// Why `change` cannot be stored, or an empty string.
std::string refusal_of(const cluster_map_change& change) {
  if (change.document.empty()) return "the cluster map document is empty";
  if (change.document.size() > cluster_map_document_limit)
    return "the cluster map document is larger than " + std::to_string(cluster_map_document_limit) +
           " bytes";
  // bounded_text keeps valid UTF-8 without control characters as it is.
  if (bounded_text(change.document, cluster_map_document_limit) != change.document)
    return "the cluster map document is not UTF-8 text without control characters";
  if (change.changed_by.empty() || change.changed_by.size() > audit_name_limit ||
      bounded_text(change.changed_by, audit_name_limit) != change.changed_by)
    return "a cluster map change needs who made it (1 to 255 bytes of text)";
  if (change.if_version < 0) return "if_version must be 0 or more";
  return {};
}

}  // namespace

caf::expected<std::int64_t> sql_store::cluster_map_version() {
  return transact("cluster_map_version", [&](connection& c) -> caf::expected<std::int64_t> {
    auto r = c.query("SELECT version FROM cluster_map WHERE id = 1", {});
    return r->next() ? r->i64(0) : 0;
  });
}

caf::expected<cluster_map_document> sql_store::read_cluster_map() {
  return transact("read_cluster_map", [&](connection& c) -> caf::expected<cluster_map_document> {
    cluster_map_document d;
    auto r = c.query(
        "SELECT version, document, changed_at, changed_by FROM cluster_map WHERE id = 1", {});
    if (r->next()) d = {r->i64(0), r->text(1), r->i64(2), r->text(3)};
    return d;
  });
}

caf::expected<cluster_map_document> sql_store::change_cluster_map(
    const cluster_map_change& change) {
  if (auto why = refusal_of(change); !why.empty())
    return make_error(errc::invalid_argument, std::move(why));
  return transact("change_cluster_map", [&](connection& c) -> caf::expected<cluster_map_document> {
    auto now = clock_->now();
    auto r = c.query("SELECT version FROM cluster_map WHERE id = 1" + pool_->sql().for_update, {});
    std::int64_t version = r->next() ? r->i64(0) : 0;
    if (version != change.if_version)
      return make_error(errc::conflict, "the cluster map is at version " + std::to_string(version) +
                                            ", not " + std::to_string(change.if_version) +
                                            ": read it again and redo the change");
    // The row exists since migration 9; the version in the WHERE clause is the fence.
    if (c.execute("UPDATE cluster_map SET version = ?, document = ?, changed_at = ?, "
                  "changed_by = ? WHERE id = 1 AND version = ?",
                  {version + 1, change.document, now, change.changed_by, version}) != 1)
      return make_error(errc::conflict, "the cluster map changed meanwhile: read it again");
    auto e = bounded(audit_entry{0, now, change.changed_by, change.source, "cluster.write",
                                 "cluster-map", "accepted",
                                 "version " + std::to_string(version) + " → " +
                                     std::to_string(version + 1) + ": " + change.summary});
    c.execute(
        "INSERT INTO audit (at, actor, source, action, target, decision, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {e.at, e.actor, e.source, e.action, e.target, e.decision, e.detail});
    return cluster_map_document{version + 1, change.document, now, change.changed_by};
  });
}

}  // namespace ab::storage::detail
