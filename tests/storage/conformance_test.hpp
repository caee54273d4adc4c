#pragma once

// The store conformance suite: one set of behaviours that every backend must show. Each
// backend's test binary instantiates `StoreConformance` with its name.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/store.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<manual_clock>();
    store_ = std::make_unique<scratch_store>(GetParam(), clock_, policy());
    ASSERT_FALSE(::testing::Test::HasFailure());
  }
  void TearDown() override { store_.reset(); }

  /// The queue policy of the suite: 1 s backoff base, 10 s cap.
  static storage::queue_policy policy() {
    storage::queue_policy p;
    p.backoff_base_ms = 1000;
    p.backoff_max_ms = 10000;
    return p;
  }

  storage::store& db() { return **store_; }
  /// The store's test-only operations.
  storage::detail::test_hooks& hooks() { return store_->hooks(); }

  /// A request for `host` whose chain has one job per entry of `types`.
  static storage::request_spec spec(const std::string& host,
                                    const std::vector<std::string>& types = {"t"},
                                    const std::string& priority = "user") {
    storage::request_spec s;
    s.action = "test";
    s.host = host;
    s.site = "dc1";
    s.priority_class = priority;
    s.submitter = "tester";
    for (const auto& t : types) s.chain.push_back({t, 3, 0});
    return s;
  }

  /// Submits one request and returns its id; fails the test if it was not created.
  storage::request_id submit_one(const storage::request_spec& s) {
    auto out = db().submit({s});
    EXPECT_TRUE(out) << message_of(out.error());
    if (!out) return 0;
    EXPECT_EQ(out->at(0).what, storage::submit_outcome::status::created);
    return out->at(0).id;
  }

  std::vector<storage::claimed_job> claim(const std::string& type, int n = 10,
                                          const std::string& owner = "node-a",
                                          time_ms lease = 30000) {
    auto out = db().claim(owner, type, n, lease);
    EXPECT_TRUE(out) << message_of(out.error());
    return out ? *out : std::vector<storage::claimed_job>{};
  }

  storage::complete_result complete(const storage::claimed_job& j, const std::string& result = "") {
    auto out = db().complete({{{j.id, j.lease_token}, result}});
    EXPECT_TRUE(out) << message_of(out.error());
    return out ? *out : storage::complete_result{};
  }

  storage::request_view request(storage::request_id id) {
    auto out = db().request(id);
    EXPECT_TRUE(out) << message_of(out.error());
    return out ? *out : storage::request_view{};
  }

  /// The holder of the claimed jobs died: `after_ms` passes, recovery retries `retried`
  /// jobs, and their backoff passes so that they can be claimed again.
  void recover_after_death(time_ms after_ms, std::size_t retried = 1) {
    clock_->advance(after_ms);
    auto rec = db().recover(100);
    ASSERT_TRUE(rec) << message_of(rec.error());
    EXPECT_EQ(rec->retried, retried);
    EXPECT_EQ(rec->failed, 0u);
    clock_->advance(policy().backoff_max_ms);
  }

  std::shared_ptr<manual_clock> clock_;
  std::unique_ptr<scratch_store> store_;
};

}  // namespace ab::testing
