// Conformance: the site's cluster map. A change is a compare-and-set on the version, each
// change is audited in the same transaction, and a bad document changes nothing.

#include <thread>

#include "tests/storage/conformance_test.hpp"

namespace ab::testing {

namespace {

storage::cluster_map_change change_to(const std::string& document, std::int64_t if_version,
                                      const std::string& by = "alice") {
  return {document, if_version, by, "10.0.0.9", "n1: all → build"};
}

const std::string map_a = R"({"clusters":{"all":{"actions":["*"]}},"default_cluster":"all"})";
const std::string map_b =
    R"({"clusters":{"all":{"actions":["*"]},"build":{"actions":["reimage"]}},)"
    R"("default_cluster":"all","nodes":{"n1":"build"}})";

std::vector<storage::audit_entry> map_changes(storage::store& db) {
  auto log = db.audit_log({});
  EXPECT_TRUE(log) << message_of(log.error());
  std::vector<storage::audit_entry> out;
  if (log)
    for (const auto& e : *log)
      if (e.action == "cluster.write") out.push_back(e);
  return out;
}

}  // namespace

TEST_P(StoreConformance, ANewDatabaseHasNoClusterMapYet) {
  storage::cluster_map_store& maps = db();
  auto v = maps.cluster_map_version();
  ASSERT_TRUE(v) << message_of(v.error());
  EXPECT_EQ(*v, 0);
  auto d = maps.read_cluster_map();
  ASSERT_TRUE(d) << message_of(d.error());
  EXPECT_EQ(d->version, 0);
  EXPECT_TRUE(d->document.empty());
}

TEST_P(StoreConformance, AClusterMapChangeIsACompareAndSetOnTheVersion) {
  storage::cluster_map_store& maps = db();
  auto first = maps.change_cluster_map(change_to(map_a, 0));
  ASSERT_TRUE(first) << message_of(first.error());
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->changed_at, clock_->now());
  EXPECT_EQ(first->changed_by, "alice");

  // A writer that read version 0 comes too late: refused, and the map stays as it is.
  auto late = maps.change_cluster_map(change_to(map_b, 0, "bob"));
  ASSERT_FALSE(late);
  EXPECT_TRUE(is(late.error(), errc::conflict)) << message_of(late.error());
  auto now = maps.read_cluster_map();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, 1);
  EXPECT_EQ(now->document, map_a);
  EXPECT_EQ(now->changed_by, "alice");

  auto second = maps.change_cluster_map(change_to(map_b, 1, "bob"));
  ASSERT_TRUE(second) << message_of(second.error());
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(*maps.cluster_map_version(), 2);
  EXPECT_EQ(maps.read_cluster_map()->document, map_b);
}

TEST_P(StoreConformance, ConcurrentClusterMapChangesFromOneVersionLetExactlyOneWin) {
  auto other = store_->reopen(policy());
  ASSERT_TRUE(other) << message_of(other.error());
  ASSERT_TRUE(db().change_cluster_map(change_to(map_a, 0)));
  std::vector<caf::expected<storage::cluster_map_document>> out(8, caf::error{});
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < out.size(); ++i)
    writers.emplace_back([&, i] {
      storage::store& s = i % 2 ? **other : db();
      out[i] = s.change_cluster_map(change_to(map_b, 1, "writer-" + std::to_string(i)));
    });
  for (auto& w : writers) w.join();
  int won = 0;
  for (const auto& o : out) {
    if (o) {
      ++won;
      EXPECT_EQ(o->version, 2);
    } else {
      EXPECT_TRUE(is(o.error(), errc::conflict)) << message_of(o.error());
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(*db().cluster_map_version(), 2);
  EXPECT_EQ(map_changes(db()).size(), 2u) << "one audit entry per change that was made";
}

TEST_P(StoreConformance, EveryClusterMapChangeIsAuditedWithItsVersionsAndWhatMoved) {
  ASSERT_TRUE(db().change_cluster_map(change_to(map_a, 0)));
  ASSERT_TRUE(db().change_cluster_map(change_to(map_b, 1, "bob")));
  ASSERT_FALSE(db().change_cluster_map(change_to(map_a, 1, "carol"))) << "a conflict";
  auto entries = map_changes(db());
  ASSERT_EQ(entries.size(), 2u) << "a refused change writes nothing";
  // Newest first.
  EXPECT_EQ(entries[0].actor, "bob");
  EXPECT_EQ(entries[0].source, "10.0.0.9");
  EXPECT_EQ(entries[0].target, "cluster-map");
  EXPECT_EQ(entries[0].decision, "accepted");
  EXPECT_EQ(entries[0].detail, "version 1 → 2: n1: all → build");
  EXPECT_EQ(entries[1].detail, "version 0 → 1: n1: all → build");
}

TEST_P(StoreConformance, ABadClusterMapDocumentIsRefusedAndChangesNothing) {
  storage::cluster_map_store& maps = db();
  ASSERT_TRUE(maps.change_cluster_map(change_to(map_a, 0)));
  std::vector<storage::cluster_map_change> bad{
      change_to("", 1),
      change_to(std::string(storage::cluster_map_document_limit + 1, ' '), 1),
      change_to("{\"clusters\":\"\xff\xfe\"}", 1),
      change_to("{\"a\":\n\"b\x01\"}", 1),
      change_to(map_b, 1, ""),
      change_to(map_b, 1, std::string(300, 'x')),
      change_to(map_b, -1),
  };
  for (const auto& c : bad) {
    auto out = maps.change_cluster_map(c);
    ASSERT_FALSE(out) << c.document.substr(0, 40);
    EXPECT_TRUE(is(out.error(), errc::invalid_argument)) << message_of(out.error());
  }
  auto now = maps.read_cluster_map();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, 1);
  EXPECT_EQ(now->document, map_a);
  EXPECT_EQ(map_changes(db()).size(), 1u);
}

TEST_P(StoreConformance, TheClusterMapIsOneForEveryStoreOnTheDatabase) {
  auto other = store_->reopen(policy());
  ASSERT_TRUE(other) << message_of(other.error());
  ASSERT_TRUE(db().change_cluster_map(change_to(map_b, 0)));
  storage::cluster_map_store& theirs = **other;
  EXPECT_EQ(*theirs.cluster_map_version(), 1);
  EXPECT_EQ(theirs.read_cluster_map()->document, map_b);
}

}  // namespace ab::testing
