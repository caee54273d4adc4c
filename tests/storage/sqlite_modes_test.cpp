// The SQLite database, its directory and its -wal/-shm files are private to the node.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "storage/sqlite_store.hpp"
#include "tests/fakes/scratch_dir.hpp"

namespace ab::testing {

namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class SqliteModes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-sqlite-modes-");
    // The usual umask, under which files are created readable by everyone.
    old_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(dir_);
  }

  /// Opens the store at `path` and writes to it, so that its -wal and -shm files exist.
  std::unique_ptr<storage::store> open(const fs::path& path) {
    auto s = storage::open_sqlite_store(path.string(), std::make_shared<system_clock>());
    EXPECT_TRUE(s) << message_of(s.error());
    if (!s) return nullptr;
    EXPECT_FALSE((*s)->heartbeat({"n1", "dc1", "c", "a", 0}));
    return std::move(*s);
  }

  fs::path dir_;
  mode_t old_umask_ = 022;
};

}  // namespace

TEST_F(SqliteModes, ANewDatabaseItsDirectoryAndItsWalFilesArePrivate) {
  auto db = dir_ / "state" / "autobuild.db";
  auto store = open(db);
  ASSERT_TRUE(store);
  EXPECT_EQ(mode_of(db.parent_path()), 0700u);
  EXPECT_EQ(mode_of(db), 0600u);
  ASSERT_TRUE(fs::exists(db.string() + "-wal"));
  EXPECT_EQ(mode_of(db.string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-shm"), 0600u);
}

TEST_F(SqliteModes, AnExistingDatabaseReadableByOthersIsMadePrivate) {
  auto db = dir_ / "autobuild.db";
  open(db).reset();
  fs::permissions(db, fs::perms(0644));
  std::ofstream(db.string() + "-wal").flush();
  fs::permissions(db.string() + "-wal", fs::perms(0666));
  fs::permissions(dir_, fs::perms(0755));
  auto store = open(db);
  ASSERT_TRUE(store);
  EXPECT_EQ(mode_of(db), 0600u);
  EXPECT_EQ(mode_of(db.string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(dir_), 0755u) << "an existing directory is warned about, not changed";
}

}  // namespace ab::testing
