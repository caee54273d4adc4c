#pragma once

// The router's picture of the nodes: who they are, where, how loaded, and whether a call may
// go to them. A plain class (tested with a manual clock) and the actor that owns one.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>

#include "cluster/heartbeat.hpp"
#include "core/clock.hpp"
#include "core/release.hpp"

namespace ab::router {

/// How long a node is trusted after a heartbeat, and after a refused connection.
struct table_options {
  /// A node whose last heartbeat is older than this is not routed to.
  time_ms freshness_ms = 180000;
  /// A node that refused a connection is not routed to for this long, or until its next
  /// heartbeat, whichever comes first.
  time_ms set_aside_ms = 5000;
  /// A node silent this long is forgotten (it leaves `GET /v1/cluster`).
  time_ms forget_after_ms = 24 * 3600 * 1000;
  /// The protocol versions this router speaks: a node whose range does not meet it is shown
  /// but never routed to.
  protocol_range protocol{};
};

/// What calls to one node are meeting now, counted by whichever thread sees it: shared by
/// every snapshot of the table that holds the node.
struct node_live {
  /// Calls of this router in flight to the node.
  std::atomic<std::int64_t> in_flight{0};
  /// Monotonic nanoseconds until which the node is set aside (0: not set aside).
  std::atomic<std::int64_t> aside_until_ns{0};
  /// Connections it refused since it was first seen.
  std::atomic<std::int64_t> refusals{0};
};

/// A node chosen for one call; `key` names it to `release` and `refused`.
struct node_choice {
  std::string key;
  std::string node_id;
  std::string site;
  std::string api_url;
  /// The node's counters, so that the end of the call needs no look-up.
  std::shared_ptr<node_live> live;
  /// The protocol version the call speaks: the highest both ends speak.
  int protocol = 1;
};

/// The node table as it was after one change: immutable, read by any thread.
struct table_snapshot {
  /// One node: its last heartbeat, when that arrived, and its live counters.
  struct node {
    std::string key;
    cluster::heartbeat hb;
    mono_time seen{};
    std::shared_ptr<node_live> live;
    /// Why this router cannot call the node (`incompatibility`); empty when it can.
    std::string incompatible;
    /// The protocol version calls to it speak (0 when incompatible).
    int protocol = 0;
  };
  /// Sorted by key (site, then node id).
  std::vector<node> nodes;
  /// The site of each site id heartbeats carried.
  std::map<std::int64_t, std::string> sites_by_id;
};

/// One node as `GET /v1/cluster` shows it.
struct node_status {
  std::string node_id;
  std::string site;
  std::int64_t site_id = 0;
  std::string cluster;
  std::string api_url;
  std::string version;
  double load = 0;
  std::int64_t api_in_flight = 0;
  /// Calls this router has in flight to the node now.
  std::int64_t in_flight = 0;
  /// Milliseconds since its last heartbeat arrived.
  std::int64_t heartbeat_age_ms = 0;
  /// Connections it refused since it was first seen.
  std::int64_t refusals = 0;
  /// The protocol versions it speaks, and the one calls to it speak (0: none).
  int protocol_min = 1;
  int protocol_max = 1;
  int protocol = 0;
  /// Why this router does not call it (its protocol range does not meet the router's); empty
  /// when compatible.
  std::string incompatible_reason;
  /// `fresh` (routed to), `set_aside` (refused a connection lately), `draining` (it said it
  /// takes no new calls), `incompatible` (see `incompatible_reason`) or `stale` (heartbeat older
  /// than the freshness window).
  std::string health;
};

/// The node table as the router's I/O threads use it, without a message to the table's actor
/// per call: the latest snapshot (swapped by the table's owner when a heartbeat changes it) and
/// the nodes' atomic counters.
///
/// Thread-safe. A pick counts one more call in flight on the node until its `release`.
class table_board {
 public:
  table_board(table_options options, std::shared_ptr<const ab::clock> clock);

  /// The fresh node of `site` not set aside and not in `exclude` with the fewest calls of this
  /// router in flight, then the lowest heartbeat load, taking turns among equals; it counts
  /// one more call in flight until `release`. Nullopt when the site has none.
  std::optional<node_choice> pick(const std::string& site, const std::vector<std::string>& exclude);

  /// A call to the node of `c` ended.
  static void release(const node_choice& c);

  /// The node of `c` refused a connection: set aside until its next heartbeat or for
  /// `set_aside_ms`.
  void refused(const node_choice& c) const;

  /// The site whose heartbeats carry `site_id`, if any node of it was ever seen.
  std::optional<std::string> site_of(std::int64_t site_id) const;

  /// Every site that has a node a call could go to now, sorted.
  std::vector<std::string> live_sites() const;

  /// Every node, sorted by site and node id.
  std::vector<node_status> view() const;

  /// The one site with a node a call could go to now; nullopt with `sites` set to 0 when there
  /// is none, or to 2 when there are several (then `live_sites` names them).
  std::optional<std::string> sole_live_site(std::size_t& sites) const;

  /// The table as last published.
  std::shared_ptr<const table_snapshot> snapshot() const { return current_.load(); }

  /// Replaces the snapshot; for the table's one owner.
  void publish(std::shared_ptr<const table_snapshot> next) {
    current_.store(std::move(next));
    version_.fetch_add(1, std::memory_order_release);
  }

  const table_options& options() const { return options_; }

 private:
  bool usable(const table_snapshot::node& n, mono_time now) const;
  /// The latest snapshot as the calling thread keeps it: loaded again (a locked load and a
  /// shared count the I/O threads would all bump per call) only after a `publish`.
  const table_snapshot& local() const;

  table_options options_;
  std::shared_ptr<const ab::clock> clock_;
  std::atomic<std::shared_ptr<const table_snapshot>> current_;
  std::atomic<std::uint64_t> turn_{0};
  /// Bumped by each `publish`.
  std::atomic<std::uint64_t> version_{0};
  /// Names this board in the threads' snapshot caches (an address could be reused).
  const std::uint64_t id_;
};

/// The node table: updated by heartbeats and by what calls to the nodes met.
///
/// Nodes are keyed by site and node id. Its changes are not thread-safe (the node table actor
/// owns one); each change is published to its `table_board`, which any thread may read.
class node_table {
 public:
  /// A null `board` gets a board of its own.
  node_table(table_options options, std::shared_ptr<const ab::clock> clock,
             std::shared_ptr<table_board> board = nullptr);

  /// Records a verified heartbeat; false (and nothing changes) when it is not newer than the
  /// last one of that node (a replay), or names a site id another site holds.
  bool beat(const cluster::heartbeat& hb);

  /// The fresh node of `site` not set aside and not in `exclude` with the fewest calls of this
  /// router in flight, then the lowest heartbeat load, taking turns among equals; it counts
  /// one more call in flight until `release`. Nullopt when the site has none.
  std::optional<node_choice> pick(const std::string& site, const std::vector<std::string>& exclude);

  /// A call to the node `key` ended.
  void release(const std::string& key);

  /// The node `key` refused a connection: set aside until its next heartbeat or for
  /// `set_aside_ms`.
  void refused(const std::string& key);

  /// The site whose heartbeats carry `site_id`, if any node of it was ever seen.
  std::optional<std::string> site_of(std::int64_t site_id) const;

  /// Every site that has a node a call could go to now, sorted.
  std::vector<std::string> live_sites() const;

  /// Every node, sorted by site and node id.
  std::vector<node_status> view() const;

  /// Where the table's changes are published.
  const std::shared_ptr<table_board>& board() const { return board_; }

 private:
  struct entry {
    cluster::heartbeat hb;
    mono_time seen{};
    std::shared_ptr<node_live> live = std::make_shared<node_live>();
  };
  /// Drops the nodes silent for `forget_after_ms`; true if it dropped any.
  bool forget_silent(mono_time now);
  void publish();

  table_options options_;
  std::shared_ptr<const ab::clock> clock_;
  std::shared_ptr<table_board> board_;
  std::map<std::string, entry> nodes_;
  std::map<std::int64_t, std::string> sites_by_id_;
};

/// A verified heartbeat, as the node table actor receives it.
struct beat_msg {
  cluster::heartbeat hb;
};

/// Nodes to leave out of a pick (already tried for this call).
struct pick_msg {
  std::string site;
  std::vector<std::string> exclude;
};

using beat_atom = caf::atom_constant<caf::atom("beat")>;
using pick_atom = caf::atom_constant<caf::atom("pick")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using refused_atom = caf::atom_constant<caf::atom("refused")>;
using site_of_atom = caf::atom_constant<caf::atom("site_of")>;
using sites_atom = caf::atom_constant<caf::atom("sites")>;
using view_atom = caf::atom_constant<caf::atom("view")>;

/// The node table actor: the one owner of a `node_table`. A pick with no node to offer is
/// answered with an error of code `errc::unavailable`.
using node_table_actor =
    caf::typed_actor<caf::replies_to<beat_atom, beat_msg>::with<bool>,
                     caf::replies_to<pick_atom, pick_msg>::with<node_choice>,
                     caf::reacts_to<release_atom, std::string>,
                     caf::reacts_to<refused_atom, std::string>,
                     caf::replies_to<site_of_atom, std::int64_t>::with<std::string>,
                     caf::replies_to<sites_atom>::with<std::vector<std::string>>,
                     caf::replies_to<view_atom>::with<std::vector<node_status>>>;

/// Spawns a node table actor; it publishes every change to `board` (null: a board of its own).
node_table_actor spawn_node_table(caf::actor_system& sys, table_options options,
                                  std::shared_ptr<const ab::clock> clock,
                                  std::shared_ptr<table_board> board = nullptr);

}  // namespace ab::router

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::router::beat_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::router::pick_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ab::router::node_choice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<ab::router::node_status>)
