#pragma once

// The cluster map's role of the store: the site's one cluster map, versioned, every change
// audited.

#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/expected.hpp>

#include "core/clock.hpp"

namespace ab::storage {

/// The most bytes of a stored cluster map document.
inline constexpr std::size_t cluster_map_document_limit = 64 * 1024;

/// One version of the site's cluster map. Version 0 is the map no one has set yet: its
/// document is empty (the nodes then use the built-in map).
struct cluster_map_document {
  std::int64_t version = 0;
  /// The map as JSON (the cluster-map file's format); the store keeps it as given.
  std::string document;
  time_ms changed_at = 0;
  /// Who made this version (an account, or `node:ID` for a node that seeded it).
  std::string changed_by;
};

/// A change of the cluster map, made only if the map is still at `if_version`.
struct cluster_map_change {
  /// The new document: 1 to `cluster_map_document_limit` bytes of UTF-8 without control
  /// characters. Its meaning is checked by the caller (`config::parse_cluster_map`).
  std::string document;
  std::int64_t if_version = 0;
  std::string changed_by;
  /// Where the change came from (a client address), for the audit trail.
  std::string source;
  /// What moved, in one line, for the audit trail (`n1: discover → build`).
  std::string summary;
};

/// The site's cluster map. A change is a compare-and-set on the version: a writer that read
/// version N changes the map only while it is still at N (else `conflict`, nothing written),
/// and every change appends an audit entry (`cluster.write`, target `cluster-map`, the old and
/// new versions and what moved) in the same transaction. Every call is one transaction; none
/// throws.
class cluster_map_store {
 public:
  virtual ~cluster_map_store() = default;

  /// The version of the map in the database: one small read, for nodes that poll it.
  virtual caf::expected<std::int64_t> cluster_map_version() = 0;

  /// The map in the database (version 0 with an empty document when none was set).
  virtual caf::expected<cluster_map_document> read_cluster_map() = 0;

  /// Stores `change.document` as version `if_version + 1`; `conflict` when the map is no
  /// longer at `if_version`, `invalid_argument` for an empty, oversized or non-text document,
  /// an empty or overlong `changed_by` or a negative version. Returns the new version.
  virtual caf::expected<cluster_map_document> change_cluster_map(
      const cluster_map_change& change) = 0;
};

}  // namespace ab::storage
