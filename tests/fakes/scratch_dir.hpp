#pragma once

// A fresh, empty directory per test, named after it so that a failed test's files are easy to
// find and parallel test processes never share one.

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace ab::testing {

/// `<tmp>/<prefix><pid>-<test name>` (a parameterised test's '/' as '_'), emptied and created.
inline std::filesystem::path scratch_dir(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (auto& ch : name)
    if (ch == '/') ch = '_';
  auto dir =
      std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace ab::testing
