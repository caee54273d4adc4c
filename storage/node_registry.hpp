#pragma once

// The node registry's role of the store: which nodes exist, which process is each node, and
// the database's clock they check theirs against.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/types.hpp"

namespace ab::storage {

/// A process's exclusive claim to its node id, held while this object lives: a row of the site
/// database (table `node_claims`) that expires unless `refresh` renews it. It must not
/// outlive the store that made it.
class node_claim {
 public:
  virtual ~node_claim() = default;
  /// Renews the claim (taking it again if it was freed meanwhile); false when another
  /// process holds the id now (this one must stop). True while the database is unreachable:
  /// the claim is not known lost.
  virtual bool refresh() = 0;
};

/// The nodes sharing the site database: a node claims its id at start-up, clears what its
/// earlier incarnations left, checks its clock, then heartbeats. Every call is one
/// transaction; none throws.
class node_registry {
 public:
  virtual ~node_registry() = default;

  /// Claims `node_id` for this process (`incarnation`) for as long as the returned object
  /// lives and renews it at least every `ttl_ms` (database time). `conflict` when another
  /// process holds it whose claim has not expired and which is not known dead (a process of
  /// this host that is gone frees its id at once). The claim is a row every node of a Galera
  /// cluster sees, taken by a conditional write: two processes cannot both hold an id.
  virtual caf::expected<std::unique_ptr<node_claim>> claim_node(const std::string& node_id,
                                                                const std::string& incarnation,
                                                                time_ms ttl_ms) = 0;

  /// Ends now the leases that earlier incarnations of `node_id` hold: every lease whose owner
  /// starts with `NODE_ID@` (or, from before incarnations, `NODE_ID/`) but not with
  /// `owner_prefix(node_id, incarnation)`, so that recovery retries their jobs at once. Call
  /// only while holding `claim_node(node_id)`: then no other live process has that id.
  virtual caf::expected<std::size_t> expire_predecessors(const std::string& node_id,
                                                         const std::string& incarnation) = 0;

  /// The database's own clock (MySQL `NOW(3)`; SQLite, which is local, the store's clock), to
  /// check this node's clock against.
  virtual caf::expected<time_ms> database_time() = 0;

  /// Records that a node is alive now (insert or update).
  virtual caf::error heartbeat(const node_record& node) = 0;

  /// Every known node of the site database.
  virtual caf::expected<std::vector<node_record>> nodes() = 0;
};

}  // namespace ab::storage
