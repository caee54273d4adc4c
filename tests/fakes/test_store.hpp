#pragma once

// Opens a fresh, empty store of either backend for one test and removes it afterwards.

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "storage/detail/test_hooks.hpp"
#include "storage/store.hpp"

namespace ab::testing {

/// A store that exists for one test: a new SQLite file, or a new MySQL database on the
/// server that AB_MYSQL_URL names (scripts/test starts one).
class scratch_store {
 public:
  /// `backend` is "sqlite" or "mysql". Fails the current test if the store cannot be opened.
  /// The schema is migrated up to `schema_max` (0: every migration), as that release would.
  scratch_store(const std::string& backend, std::shared_ptr<const ab::clock> clk,
                storage::queue_policy policy = {}, int schema_max = 0);
  ~scratch_store();
  scratch_store(const scratch_store&) = delete;
  scratch_store& operator=(const scratch_store&) = delete;

  storage::store& operator*() const { return *store_; }
  storage::store* operator->() const { return store_.get(); }
  /// The store's test-only operations (not part of any production role).
  storage::detail::test_hooks& hooks() const;
  /// Opens a second store on the same database (another node, or a restart), as a release that
  /// knows schema versions up to `schema_max` (0: all of them) would.
  caf::expected<std::unique_ptr<storage::store>> reopen(storage::queue_policy policy = {},
                                                        int schema_max = 0) const;
  /// Runs raw SQL against the database behind the store (for fault injection).
  void raw_sql(const std::string& sql) const;
  /// The URL of the database behind the store.
  const std::string& url() const { return url_; }

 private:
  std::string backend_;
  std::string url_;
  std::string name_;
  std::shared_ptr<const ab::clock> clock_;
  std::unique_ptr<storage::store> store_;
};

/// The test-only operations of `s`, which every backend offers.
storage::detail::test_hooks& test_hooks_of(storage::store& s);

/// The URL of the MySQL server the tests use, from AB_MYSQL_URL; empty when unset.
std::string mysql_test_url();

}  // namespace ab::testing
