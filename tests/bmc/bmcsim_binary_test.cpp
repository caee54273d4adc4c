// ab-bmcsim run as a process.

#include <cstdio>

#include <gtest/gtest.h>

#include "tests/fakes/node_process.hpp"

TEST(AbBmcsim, StartsAnswersAndStopsOnSigterm) {
  // An old log would show an old port before the new process truncates it.
  const auto log = ::testing::TempDir() + "ab-bmcsim.log";
  std::remove(log.c_str());
  ab::testing::node_process p(AB_BMCSIM_BIN, {"--port", "0", "--hosts", "3", "--time-scale", "0"},
                              log);
  ASSERT_TRUE(p.ok()) << p.output();
  auto a = ab::testing::http_call(p.port(), "GET", "/bmc/sim-0002/redfish/v1/");
  EXPECT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("/bmc/sim-0002/redfish/v1/Systems"), std::string::npos);
  EXPECT_EQ(p.terminate(10), 0);
}
