// BMC credentials resolved from credential references.

#include "bmc/credentials.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace ab::bmc {
namespace {

std::string write_file(const std::string& text, mode_t mode) {
  auto path = std::filesystem::temp_directory_path() /
              ("ab-cred-" + std::to_string(::getpid()) + "-" + std::to_string(mode));
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path.string();
}

TEST(Credentials, FromAPrivateFileAndFromTheEnvironment) {
  auto path = write_file("admin:pa:ss\nignored\n", 0600);
  auto c = resolve_credentials("file:" + path);
  ASSERT_TRUE(c) << message_of(c.error());
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->password, "pa:ss");
  std::filesystem::remove(path);
  ::setenv("AB_TEST_BMC", "root:calvin", 1);
  c = resolve_credentials("env:AB_TEST_BMC");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "root");
  EXPECT_EQ(c->password, "calvin");
}

TEST(Credentials, BadReferencesNameTheReferenceButNeverTheSecret) {
  auto open_file = write_file("admin:secret-in-file", 0644);
  auto bad_file = write_file("no-colon-secret", 0600);
  ::setenv("AB_TEST_BMC_BAD", "secret-in-env", 1);
  ::unsetenv("AB_TEST_BMC_UNSET");
  for (const std::string ref :
       {"file:" + open_file, "file:" + bad_file, std::string{"file:/nonexistent/x"},
        std::string{"env:AB_TEST_BMC_BAD"}, std::string{"env:AB_TEST_BMC_UNSET"},
        std::string{"vault:x"}}) {
    auto c = resolve_credentials(ref);
    ASSERT_FALSE(c) << ref;
    EXPECT_TRUE(is(c.error(), errc::bad_config));
    auto msg = message_of(c.error());
    EXPECT_NE(msg.find(ref.substr(0, 4)), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
  }
  std::filesystem::remove(open_file);
  std::filesystem::remove(bad_file);
}

}  // namespace
}  // namespace ab::bmc
