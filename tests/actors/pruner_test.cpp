// The pruner on a real actor system and an embedded store.

#include "actors/pruner.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "core/error.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

TEST(Pruner, PrunesOldFinishedRequestsAndAuditAtStartAndKeepsActiveOnes) {
  constexpr time_ms day = 24 * 3600 * 1000;
  auto clock = std::make_shared<manual_clock>();
  scratch_store db{"sqlite", clock};
  auto spec = [](const std::string& host) {
    storage::request_spec s;
    s.action = "test";
    s.host = host;
    s.site = "dc1";
    s.submitter = "t";
    s.chain = {{"t", 3, 0}};
    return s;
  };
  auto old = db->submit({spec("a")});
  ASSERT_TRUE(old);
  ASSERT_TRUE(db->cancel(old->at(0).id, "done with"));
  auto active = db->submit({spec("b")});
  ASSERT_TRUE(active);
  ASSERT_TRUE(db->audit({0, 0, "alice", "s", "a", "t", "accepted", "d"}));
  clock->advance(100 * day);
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto pruner =
        actors::spawn_pruner(sys, std::shared_ptr<storage::store>(&*db, [](storage::store*) {}),
                             {30 * day, 90 * day}, 3600 * 1000);
    EXPECT_TRUE(wait_until([&] { return !db->request(old->at(0).id); }));
    EXPECT_TRUE(wait_until([&] { return db->audit_log({})->empty(); }));
    caf::anon_send_exit(pruner, caf::exit_reason::user_shutdown);
  }
  EXPECT_TRUE(db->request(active->at(0).id)) << "an active request is never pruned";
}

namespace {

/// Only the retention role: all the pruner may touch.
class retention_only final : public storage::retention_store {
 public:
  caf::expected<storage::prune_result> prune(const storage::retention& keep,
                                             std::size_t limit) override {
    ++calls;
    last_keep_ms = keep.requests_ms;
    last_limit = limit;
    return storage::prune_result{};
  }
  std::atomic<int> calls{0};
  std::atomic<time_ms> last_keep_ms{0};
  std::atomic<std::size_t> last_limit{0};
};

}  // namespace

TEST(Pruner, NeedsOnlyTheRetentionRoleOfTheStore) {
  auto store = std::make_shared<retention_only>();
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto pruner = actors::spawn_pruner(sys, store, {1000, 0}, 3600 * 1000);
  EXPECT_TRUE(wait_until([&] { return store->calls.load() >= 1; }));
  EXPECT_EQ(store->last_keep_ms.load(), 1000);
  EXPECT_GT(store->last_limit.load(), 0u);
  caf::anon_send_exit(pruner, caf::exit_reason::user_shutdown);
}

}  // namespace ab::testing
