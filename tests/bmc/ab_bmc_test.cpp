// ab-bmc as an operator runs it, against the fake BMC; and its command-line parsing.

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "tests/bmc/fake_redfish.hpp"
#include "tools/bmc_cli.hpp"

namespace {

namespace fs = std::filesystem;

struct run_result {
  int status = -1;
  std::string out;
};

/// Runs ab-bmc with `args` (a shell-quoted string), stdout captured, stderr to stdout too.
run_result run(const std::string& args) {
  run_result r;
  auto cmd = std::string(AB_BMC_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.status = pclose(p);
  return r;
}

class AbBmc : public ::testing::Test {
 protected:
  void SetUp() override {
    ab::testing::fake_redfish_options o;
    o.mockup_dir = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-rackmount1";
    fake_ = std::make_unique<ab::testing::fake_redfish>(o);
    password_file_ = fs::temp_directory_path() / ("ab-bmc-test-" + std::to_string(getpid()));
    std::ofstream(password_file_) << "secret\n";
    fs::permissions(password_file_, fs::perms::owner_read | fs::perms::owner_write);
  }

  void TearDown() override { fs::remove(password_file_); }

  std::string common() const {
    return "--endpoint " + fake_->endpoint() + " --user admin --password-file " +
           password_file_.string() + " --timeout-ms 5000 ";
  }

  std::unique_ptr<ab::testing::fake_redfish> fake_;
  fs::path password_file_;
};

TEST_F(AbBmc, PowerStatusPrintsOnThenOffAfterPowerOff) {
  auto on = run(common() + "power status");
  EXPECT_EQ(on.status, 0) << on.out;
  EXPECT_EQ(on.out, "On\n");
  ASSERT_EQ(run(common() + "power off").status, 0);
  auto off = run(common() + "power status");
  EXPECT_EQ(off.out, "Off\n");
}

TEST_F(AbBmc, InventoryIsJson) {
  auto r = run(common() + "inventory");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["serial"], "437XR1138R2");
}

TEST_F(AbBmc, ABadEndpointExitsNonZeroWithOneLineReason) {
  auto r = run("--endpoint http://127.0.0.1:1 --user admin --password-file " +
               password_file_.string() + " --timeout-ms 2000 power status");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.rfind("ab-bmc: ", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST_F(AbBmc, TheIpmiDriverAnswersAnUnreachableBmcWithOneLine) {
  auto r = run("--driver ipmi --endpoint 127.0.0.1:9 --user admin --password-file " +
               password_file_.string() + " --timeout-ms 1500 power status");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out.rfind("ab-bmc: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("127.0.0.1:9"), std::string::npos) << r.out;
}

TEST_F(AbBmc, RefusesAPasswordFileThatOthersCanReadNamingItAndTheFix) {
  fs::permissions(password_file_, fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
  auto r = run(common() + "power status");
  EXPECT_EQ(r.status >> 8, 2) << r.out;
  EXPECT_NE(r.out.find(password_file_.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chmod 600"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("On"), std::string::npos) << r.out;
}

TEST(BmcCommandLine, ParsesOptionsAndCommand) {
  auto cl = ab::tools::parse_bmc_command_line({"--endpoint", "https://b:443/x", "--insecure",
                                               "--timeout-ms", "1500", "boot", "http", "--once"});
  ASSERT_TRUE(cl) << ab::message_of(cl.error());
  EXPECT_EQ(cl->target.endpoint, "https://b:443/x");
  EXPECT_TRUE(cl->target.insecure);
  EXPECT_TRUE(cl->once);
  EXPECT_EQ(cl->target.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(cl->command, (std::vector<std::string>{"boot", "http"}));
}

TEST(BmcCommandLine, RefusesUnknownCommandsOptionsAndMissingArguments) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--endpoint", "https://b", "power", "explode"},
        {"--endpoint", "https://b", "media", "insert"},
        {"--endpoint", "https://b", "--frobnicate", "inventory"},
        {"--endpoint", "https://b", "--timeout-ms", "soon", "inventory"},
        {"power", "status"}}) {
    auto cl = ab::tools::parse_bmc_command_line(args);
    EXPECT_FALSE(cl) << args.back();
  }
}

}  // namespace
