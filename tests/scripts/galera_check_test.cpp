// deploy/galera/galera-check, HAProxy's external check of a Galera node, against a stand-in
// `mariadb` client that answers what a node in a given state answers.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/child_process.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// A directory with a fake `mariadb` that prints FAKE_ANSWER and exits FAKE_CODE when it is
/// asked the way the check must ask (the login file, TCP to 127.0.0.9:3307).
class GaleraCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ab_galera_check_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "bin");
    cnf_ = (dir_ / "check.cnf").string();
    std::ofstream{cnf_} << "[client]\nuser=ab_check\npassword=x\n";
    auto fake = dir_ / "bin" / "mariadb";
    std::ofstream{fake} << "#!/bin/sh\n"
                           "case \"$*\" in\n"
                           "  \"--defaults-extra-file="
                        << cnf_
                        << " --protocol=TCP -h 127.0.0.9 -P 3307 \"*)\n"
                           "    printf '%s\\n' \"$FAKE_ANSWER\"; exit \"${FAKE_CODE:-0}\" ;;\n"
                           "esac\n"
                           "echo \"asked wrongly: $*\" >&2; exit 9\n";
    fs::permissions(fake, fs::perms::owner_all);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// The check's exit code for a node that answers `answer` (the client exiting `code`).
  int check(const std::string& answer, int code = 0, const std::string& port = "3307") {
    auto log = (dir_ / "check.log").string();
    auto pid = ab::harness::spawn_child(
        {"env", "PATH=" + (dir_ / "bin").string() + ":/usr/bin:/bin", "AB_GALERA_CHECK_CNF=" + cnf_,
         "FAKE_ANSWER=" + answer, "FAKE_CODE=" + std::to_string(code),
         std::string(AB_SOURCE_DIR) + "/deploy/galera/galera-check", "-v", "127.0.0.1", "3306",
         "127.0.0.9", port},
        log);
    auto exit_code = ab::harness::wait_exit(pid, 20s);
    last_output_ = ab::harness::read_text(log);
    fs::remove(log);
    return exit_code;
  }

  fs::path dir_;
  std::string cnf_;
  std::string last_output_;
};

TEST_F(GaleraCheck, PassesASyncedPrimaryReadyNode) {
  EXPECT_EQ(check("ON\tPrimary\t4\tNONE"), 0) << last_output_;
}

TEST_F(GaleraCheck, FailsADesyncedDonor) {
  EXPECT_EQ(check("ON\tPrimary\t2\tNONE"), 1);
  EXPECT_NE(last_output_.find("wsrep_local_state=2"), std::string::npos) << last_output_;
}

TEST_F(GaleraCheck, FailsAJoinerAndAJoinedNode) {
  EXPECT_EQ(check("ON\tPrimary\t1\tNONE"), 1);
  EXPECT_EQ(check("ON\tPrimary\t3\tNONE"), 1);
}

TEST_F(GaleraCheck, FailsANonPrimaryNode) {
  EXPECT_EQ(check("ON\tnon-Primary\t4\tNONE"), 1);
  EXPECT_EQ(check("ON\tDisconnected\t0\tNONE"), 1);
}

TEST_F(GaleraCheck, FailsANodeThatIsNotReady) {
  EXPECT_EQ(check("OFF\tPrimary\t4\tNONE"), 1);
}

TEST_F(GaleraCheck, FailsANodeThatRejectsQueries) {
  EXPECT_EQ(check("ON\tPrimary\t4\tALL"), 1);
  EXPECT_EQ(check("ON\tPrimary\t4\tALL_KILL"), 1);
}

TEST_F(GaleraCheck, FailsANodeThatDoesNotAnswer) {
  EXPECT_EQ(check("ERROR 2002 (HY000): Can't connect", 1), 1);
  EXPECT_NE(last_output_.find("no answer"), std::string::npos) << last_output_;
}

TEST_F(GaleraCheck, FailsAnAnswerItDoesNotUnderstand) {
  EXPECT_EQ(check(""), 1);
  EXPECT_EQ(check("ON\tPrimary\t4"), 1);
  EXPECT_EQ(check("ON\tPrimary\t4\tNONE\textra"), 1);
  EXPECT_EQ(check("ON Primary 4 NONE"), 1);
}

TEST_F(GaleraCheck, AsksTheServerHaproxyNamesAndRefusesABadPort) {
  // The fake answers only for 127.0.0.9:3307: another port is not the node asked about.
  EXPECT_EQ(check("ON\tPrimary\t4\tNONE", 0, "3308"), 1);
  EXPECT_EQ(check("ON\tPrimary\t4\tNONE", 0, "33x7"), 1);
}

/// The lines of `text` that start (after blanks) with `word`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& word) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    auto at = line.find_first_not_of(' ');
    if (at != std::string::npos && line.compare(at, word.size(), word) == 0) out.push_back(line);
  }
  return out;
}

TEST(GaleraDeploy, TheHaproxySampleIsValidWithOneActiveServerAndTheOthersBackup) {
  auto config = std::string(AB_SOURCE_DIR) + "/deploy/galera/haproxy.cfg";
  auto log = (fs::temp_directory_path() / ("ab_galera_cfg_" + std::to_string(::getpid()))).string();
  auto code = ab::harness::wait_exit(
      ab::harness::spawn_child({"haproxy", "-c", "-q", "-f", config}, log), 20s);
  EXPECT_EQ(code, 0) << ab::harness::read_text(log);
  fs::remove(log);
  auto text = ab::harness::read_text(config);
  auto servers = lines_starting(text, "server ");
  ASSERT_EQ(servers.size(), 3u) << text;
  int active = 0;
  for (const auto& s : servers)
    if (s.find(" backup") == std::string::npos) ++active;
  EXPECT_EQ(active, 1) << "one writer at a time";
  EXPECT_NE(text.find("on-marked-down shutdown-sessions"), std::string::npos);
  EXPECT_EQ(lines_starting(text, "option allbackups").size(), 0u) << "one backup at a time";
  EXPECT_EQ(lines_starting(text, "option external-check").size(), 1u);
}

}  // namespace
