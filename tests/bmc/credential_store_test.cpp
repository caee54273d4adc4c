// The credential store: references resolve only inside its directory and its prefix.

#include "bmc/credential_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tests/fakes/scratch_dir.hpp"

namespace ab::bmc {
namespace {

namespace fs = std::filesystem;

class CredentialStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ab::testing::scratch_dir("ab-creds-");
    fs::create_directories(root_ / "store");
    ::chmod((root_ / "store").c_str(), 0700);
    credential_store_options o;
    o.directory = (root_ / "store").string();
    o.env_prefix = "AB_BMC_";
    store_ = std::make_unique<credential_store>(o);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string write(const fs::path& path, const std::string& text, mode_t mode = 0600) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path.string();
  }

  /// Asserts `ref` is refused and the error quotes none of `secrets`.
  void refused(const std::string& ref, const std::vector<std::string>& secrets) {
    auto err = store_->validate(ref);
    ASSERT_TRUE(err) << ref;
    EXPECT_TRUE(is(err, errc::invalid_argument)) << ref;
    auto text = message_of(err);
    for (const auto& s : secrets) EXPECT_EQ(text.find(s), std::string::npos) << ref << ": " << text;
    EXPECT_FALSE(store_->resolve(ref)) << ref;
  }

  fs::path root_;
  std::unique_ptr<credential_store> store_;
};

TEST_F(CredentialStore, ResolvesAPrivateFileOfItsDirectoryAndAPrefixedVariable) {
  write(root_ / "store" / "r1-01", "admin:pa:ss\nignored\n");
  auto c = store_->resolve("file:r1-01");
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->password, "pa:ss");
  ::setenv("AB_BMC_TEST_SIM", "root:calvin", 1);
  c = store_->resolve("env:AB_BMC_TEST_SIM");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "root");
  EXPECT_EQ(c->password, "calvin");
  EXPECT_FALSE(store_->validate("file:r1-01"));
  EXPECT_FALSE(store_->validate("env:AB_BMC_TEST_SIM"));
}

TEST_F(CredentialStore, RefusesPathsOutsideItsDirectoryWithoutSayingWhatIsThere) {
  // A private file outside the store: its existence, mode and content never show.
  auto outside = write(root_ / "shadow", "root:outside-secret");
  write(root_ / "open", "root:open-secret", 0644);
  for (const std::string& ref :
       {"file:" + outside, std::string{"file:/etc/shadow"}, std::string{"file:../shadow"},
        std::string{"file:.."}, std::string{"file:./../shadow"}, std::string{"file:sub/x"},
        std::string{"file:"}, std::string{"file:a\nb"}, std::string{"file:../open"}}) {
    refused(ref, {"outside-secret", "open-secret", "root", "shadow", "/etc", "exist", "mode",
                  "permission", "644"});
  }
  // An absolute path and a missing one inside the store answer alike: nothing outside shows.
  EXPECT_EQ(message_of(store_->validate("file:" + outside)),
            message_of(store_->validate("file:/nonexistent/x")));
}

TEST_F(CredentialStore, FollowsNoLinkOutOfItsDirectory) {
  auto outside = write(root_ / "shadow", "root:linked-secret");
  fs::create_symlink(outside, root_ / "store" / "link");
  refused("file:link", {"linked-secret", "root", root_.string()});
}

TEST_F(CredentialStore, RefusesAFileOpenToGroupOrOthers) {
  write(root_ / "store" / "group", "admin:group-secret", 0640);
  write(root_ / "store" / "world", "admin:world-secret", 0604);
  write(root_ / "store" / "gwrite", "admin:gw-secret", 0620);
  for (const auto* ref : {"file:group", "file:world", "file:gwrite"})
    refused(ref, {"secret", "admin"});
}

TEST_F(CredentialStore, RefusesADirectoryOrFifoInsteadOfAFile) {
  fs::create_directories(root_ / "store" / "dir");
  ASSERT_EQ(::mkfifo((root_ / "store" / "fifo").c_str(), 0600), 0);
  refused("file:dir", {});
  refused("file:fifo", {});
}

TEST_F(CredentialStore, RefusesVariablesWithoutItsPrefix) {
  ::setenv("AB_TEST_OTHER", "admin:env-secret", 1);
  for (const auto* ref : {"env:HOME", "env:PATH", "env:AB_TEST_OTHER", "env:AB_BMC_",
                          "env:AB_BMC_X=Y", "env:ab_bmc_x", "env:"})
    refused(ref, {"env-secret", "admin", std::getenv("HOME") ? std::getenv("HOME") : "/root"});
}

TEST_F(CredentialStore, RefusesEveryOtherScheme) {
  for (const auto* ref : {"vault:x", "FILE:r1", "http://x/y", "/etc/shadow", "", "file", "env"})
    refused(ref, {"/etc/shadow"});
}

TEST_F(CredentialStore, NeverQuotesTheSecretOrItsUserName) {
  write(root_ / "store" / "bad", "operator-name-without-colon");
  ::setenv("AB_BMC_TEST_BAD", "operator-name:", 1);
  refused("file:bad", {"operator-name"});
  refused("env:AB_BMC_TEST_BAD", {"operator-name"});
  ::unsetenv("AB_BMC_TEST_UNSET");
  refused("env:AB_BMC_TEST_UNSET", {});
}

TEST_F(CredentialStore, ReadsARotatedCredentialAtTheNextResolve) {
  auto path = write(root_ / "store" / "rotating", "admin:first");
  EXPECT_EQ(store_->resolve("file:rotating")->password, "first");
  // Rotation by rename, as an operator's tooling would do it.
  write(root_ / "store" / ".rotating.new", "admin:second");
  fs::rename(root_ / "store" / ".rotating.new", path);
  EXPECT_EQ(store_->resolve("file:rotating")->password, "second");
  ::setenv("AB_BMC_TEST_ROT", "admin:one", 1);
  EXPECT_EQ(store_->resolve("env:AB_BMC_TEST_ROT")->password, "one");
  ::setenv("AB_BMC_TEST_ROT", "admin:two", 1);
  EXPECT_EQ(store_->resolve("env:AB_BMC_TEST_ROT")->password, "two");
}

TEST_F(CredentialStore, PrepareCreatesAPrivateDirectoryAndRefusesAWritableOne) {
  credential_store_options o;
  o.directory = (root_ / "new" / "credentials").string();
  credential_store fresh(o);
  ASSERT_FALSE(fresh.prepare());
  struct stat st {};
  ASSERT_EQ(::stat(o.directory.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ::chmod(o.directory.c_str(), 0777);
  auto err = fresh.prepare();
  ASSERT_TRUE(err);
  EXPECT_TRUE(is(err, errc::bad_config));
}

}  // namespace
}  // namespace ab::bmc
