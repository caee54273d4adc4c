// README's and docs/'s examples, run as a new user would: every shell block that follows a
// line `<!-- test: run -->` in README.md or docs/*.md (read at test time, so the test follows
// them as they are edited) runs with bash in a fresh directory where `build/bin/...` names the
// built binaries, deploy/ the deployment samples and scripts/ the project's scripts. The only
// change to the text: the ports it names (8080, 8081, 8090, 8091, 8443, 9000) become free ones. The
// block must exit 0, and every request it submitted to a node it started must succeed. Every other
// shell block says why it is not run (`<!-- test: not run: WHY -->`).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/child_process.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// One marked shell block of README and the heading it is under.
struct example {
  std::string heading;
  std::string script;
};

/// The shell blocks that follow a `<!-- test: run -->` line.
std::vector<example> marked_examples(const std::string& readme) {
  std::vector<example> out;
  std::istringstream in{readme};
  std::string line, heading;
  bool marked = false, inside = false;
  while (std::getline(in, line)) {
    if (inside) {
      if (line.rfind("```", 0) == 0)
        inside = false;
      else
        out.back().script += line + "\n";
    } else if (line.rfind('#', 0) == 0) {
      heading = line;
    } else if (line == "<!-- test: run -->") {
      marked = true;
    } else if (marked && (line == "```sh" || line == "```bash")) {
      out.push_back({heading, ""});
      inside = true;
      marked = false;
    }
  }
  return out;
}

/// The headings of the shell blocks that follow neither a `<!-- test: run -->` line nor a
/// `<!-- test: not run: WHY -->` line (since the block before).
std::vector<std::string> unmarked_blocks(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line, heading;
  bool marked = false, inside = false;
  while (std::getline(in, line)) {
    if (inside) {
      inside = line.rfind("```", 0) != 0;
    } else if (line.rfind('#', 0) == 0) {
      heading = line;
    } else if (line == "<!-- test: run -->" || line.rfind("<!-- test: not run: ", 0) == 0) {
      marked = true;
    } else if (line.rfind("```", 0) == 0) {
      inside = true;
      if ((line == "```sh" || line == "```bash") && !marked) out.push_back(heading);
      marked = false;
    }
  }
  return out;
}

/// README.md and docs/*.md by path relative to the checkout, read now.
std::map<std::string, std::string> documents() {
  std::map<std::string, std::string> out;
  std::vector<fs::path> files{fs::path{AB_SOURCE_DIR} / "README.md"};
  for (const auto& e : fs::directory_iterator{fs::path{AB_SOURCE_DIR} / "docs"})
    if (e.path().extension() == ".md") files.push_back(e.path());
  for (const auto& f : files) {
    std::ifstream in{f};
    std::stringstream text;
    text << in.rdbuf();
    out[fs::relative(f, AB_SOURCE_DIR).string()] = text.str();
  }
  return out;
}

/// `script` with each port of `ports` (README's port → the free one) replaced where it
/// stands alone as a number.
std::string with_ports(std::string script, const std::map<std::string, int>& ports) {
  for (const auto& [from, to] : ports)
    script = std::regex_replace(script, std::regex{"\\b" + from + "\\b"}, std::to_string(to));
  return script;
}

/// A bash running one example in its own process group, in `dir`, output to `log`.
class shell {
 public:
  shell(const std::string& script, const fs::path& dir, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      int nul = ::open("/dev/null", O_RDONLY);
      if (out < 0 || nul < 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
      ::dup2(nul, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      auto path = std::string{AB_BUILD_DIR} +
                  "/bin:" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
      ::setenv("PATH", path.c_str(), 1);
      ::execl("/bin/bash", "bash", "-e", "-o", "pipefail", "-c", script.c_str(), nullptr);
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also here: no race with the kill in the destructor
  }
  /// Waits for bash itself (its background processes go on); its exit code, -1 on timeout.
  int wait(std::chrono::seconds limit) {
    int status = 0;
    bool done = wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!done) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  /// Stops every process the example started: SIGTERM to the group (the nodes drain), then
  /// SIGKILL to what is left; reaps them (this process is their subreaper).
  ~shell() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    auto gone = [&] {
      while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
      }
      return ::kill(-pid_, 0) != 0;
    };
    if (!wait_until(gone, std::chrono::seconds(40))) {
      ::kill(-pid_, SIGKILL);
      wait_until(gone, std::chrono::seconds(10));
    }
  }
  shell(const shell&) = delete;
  shell& operator=(const shell&) = delete;

 private:
  pid_t pid_ = -1;
};

class Readme : public ::testing::Test {
 protected:
  void SetUp() override {
    // Orphans (the example's background processes, once bash exits) come back to this
    // process, which can then reap them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    auto docs = documents();
    ASSERT_EQ(docs.count("README.md"), 1u) << "README.md is missing";
    for (const auto& [file, text] : docs)
      for (auto& ex : marked_examples(text)) {
        ex.heading = file + ": " + ex.heading;
        examples_.push_back(std::move(ex));
      }
  }

  std::vector<example> examples_;
};

/// The requests a node on `port` holds, or nullopt when nothing there answers as a node.
std::optional<json> requests_on(int port) {
  auto r = http_call(port, "GET", "/v1/requests");
  if (r.status != 200) return std::nullopt;
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("requests")) return std::nullopt;
  return j["requests"];
}

TEST_F(Readme, TheMarkedExamplesRunAsWrittenAndTheirRequestsSucceed) {
  ASSERT_GE(examples_.size(), 4u) << "README and docs mark their examples with <!-- test: run -->";
  int n = 0;
  for (const auto& ex : examples_) {
    SCOPED_TRACE(ex.heading + "\n" + ex.script);
    auto dir = fs::temp_directory_path() /
               ("ab_readme_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    // `build/bin/...` as from the root of a checkout.
    fs::create_directory_symlink(AB_BUILD_DIR, dir / "build");
    fs::create_directory_symlink(std::string{AB_SOURCE_DIR} + "/deploy", dir / "deploy");
    // scripts/mariadb for the examples that run a private database.
    fs::create_directory_symlink(std::string{AB_SOURCE_DIR} + "/scripts", dir / "scripts");
    std::map<std::string, int> ports;
    for (const auto* p : {"8080", "8081", "8090", "8091", "8443", "9000"})
      ports[p] = harness::free_port(SOCK_STREAM);
    auto script = with_ports(ex.script, ports);
    auto log = dir / "output.log";
    {
      shell sh{script, dir, log};
      int code = sh.wait(std::chrono::seconds(180));
      ASSERT_EQ(code, 0) << harness::read_text(log.string());
      // Every node the example started: its requests end, and all of them succeed.
      bool submits = std::regex_search(ex.script, std::regex{"POST.*/v1/requests"});
      std::size_t seen = 0;
      for (const auto& entry : ports) {
        int port = entry.second;
        if (!requests_on(port)) continue;
        json list;
        bool settled = wait_until(
            [&] {
              auto l = requests_on(port);
              if (!l) return false;
              list = *l;
              for (const auto& r : list) {
                auto s = r.value("state", "");
                if (s == "queued" || s == "running") return false;
              }
              return true;
            },
            std::chrono::seconds(120));
        EXPECT_TRUE(settled) << list.dump(1) << "\n" << harness::read_text(log.string());
        for (const auto& r : list) {
          auto id = std::to_string(r.value("id", 0));
          EXPECT_EQ(r.value("state", ""), "succeeded")
              << http_call(port, "GET", "/v1/requests/" + id).body << "\n"
              << harness::read_text(log.string());
        }
        seen += list.size();
      }
      if (submits) {
        EXPECT_GT(seen, 0u) << "the example submits requests to a node it starts";
      }
    }
    if (!HasFailure()) fs::remove_all(dir);
  }
}

TEST(ReadmeExamples, OnlyBlocksAfterTheMarkerAreTaken) {
  auto ex = marked_examples(
      "# A\n```sh\nnot this\n```\n## B\n<!-- test: run -->\n\n```sh\nthis\nand this\n```\n"
      "```sh\nnot this either\n```\n");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].heading, "## B");
  EXPECT_EQ(ex[0].script, "this\nand this\n");
}

TEST(ReadmeExamples, EveryShellBlockOfReadmeAndDocsIsRunOrSaysWhyNot) {
  for (const auto& [file, text] : documents())
    for (const auto& heading : unmarked_blocks(text))
      ADD_FAILURE() << file << ", under '" << heading
                    << "': a shell block neither run (<!-- test: run -->) nor saying why not "
                       "(<!-- test: not run: WHY -->)";
}

TEST(ReadmeExamples, AShellBlockWithoutAMarkerIsFound) {
  auto missing = unmarked_blocks(
      "# A\n<!-- test: run -->\n```sh\nok\n```\n## B\n```sh\nunmarked\n```\n"
      "<!-- test: not run: needs a BMC -->\n```bash\nfine\n```\n```json\n{}\n```\n");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "## B");
}

TEST(ReadmeExamples, PortsAreReplacedOnlyWhereTheyStandAlone) {
  EXPECT_EQ(
      with_ports("curl localhost:8080/x --port 9000 -days 80800", {{"8080", 1234}, {"9000", 5678}}),
      "curl localhost:1234/x --port 5678 -days 80800");
}

}  // namespace
}  // namespace ab::testing
