// docs/security.md names the test that checks each bad input class; those tests must exist,
// so that the table cannot silently outlive what it cites.

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Every test source under tests/, concatenated.
std::string test_sources() {
  std::string all;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator{std::string{AB_SOURCE_DIR} + "/tests"})
    if (e.is_regular_file() && (e.path().extension() == ".cpp" || e.path().extension() == ".hpp"))
      all += read(e.path());
  return all;
}

TEST(SecurityDoc, EveryTestItCitesExists) {
  auto doc = read(std::string{AB_SOURCE_DIR} + "/docs/security.md");
  ASSERT_FALSE(doc.empty());
  auto sources = test_sources();
  // `Suite.Name` or `Suite.Prefix*`, optionally behind a parameter prefix (`Sqlite/`).
  std::regex cited{R"(`(?:[A-Za-z]+/)?([A-Z][A-Za-z0-9]+)\.([A-Za-z0-9_]+)(\*?)`)"};
  std::set<std::string> seen;
  for (std::sregex_iterator it{doc.begin(), doc.end(), cited}, end; it != end; ++it) {
    auto suite = (*it)[1].str(), name = (*it)[2].str();
    bool prefix = (*it)[3].length() > 0;
    seen.insert(suite + "." + name);
    std::regex defined{"\\(\\s*" + suite + "\\s*,\\s*" + name + (prefix ? "" : "\\s*\\)")};
    EXPECT_TRUE(std::regex_search(sources, defined))
        << "docs/security.md cites " << suite << "." << name << (prefix ? "*" : "")
        << ", which no test under tests/ defines";
  }
  EXPECT_GT(seen.size(), 50u) << "the table of bad inputs lost its citations";
}

}  // namespace
