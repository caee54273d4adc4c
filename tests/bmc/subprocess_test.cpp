#include "bmc/detail/subprocess.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace ab::bmc::detail {
namespace {

using namespace std::chrono_literals;

TEST(Subprocess, CapturesBothOutputsAndTheExitCode) {
  auto r = run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, {}, 10s);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(Subprocess, TheChildSeesExactlyTheGivenEnvironment) {
  auto r = run({"/usr/bin/env"}, {"ONLY=this"}, 10s);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->out, "ONLY=this\n");
}

TEST(Subprocess, AChildPastItsDeadlineIsKilledAndReaped) {
  auto r = run({"/bin/sleep", "30"}, {}, 200ms);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(Subprocess, AChildThatClosesItsOutputsButLingersIsKilledToo) {
  auto r = run({"/bin/sh", "-c", "exec >&- 2>&-; sleep 30"}, {}, 200ms);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_TRUE(r->timed_out);
}

TEST(Subprocess, AMissingProgramIsAnError) {
  auto r = run({"/nonexistent/tool"}, {}, 10s);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is(r.error(), errc::unavailable));
  EXPECT_NE(message_of(r.error()).find("/nonexistent/tool"), std::string::npos);
}

}  // namespace
}  // namespace ab::bmc::detail
