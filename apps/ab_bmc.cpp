// ab-bmc: the operator's tool to act on one BMC by hand (power, boot, media, inventory,
// erase) with the same drivers the workers use.

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "bmc/driver_factory.hpp"
#include "core/error.hpp"
#include "tools/bmc_cli.hpp"

namespace {

int fail(const std::string& what, int code) {
  std::fprintf(stderr, "ab-bmc: %s\n", what.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  auto cl = ab::tools::parse_bmc_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl) return fail(ab::message_of(cl.error()), 2);
  if (cl->help) {
    std::fputs(ab::tools::bmc_usage().c_str(), stdout);
    return 0;
  }
  if (auto err = ab::tools::load_password(*cl)) return fail(ab::message_of(err), 2);
  auto driver = ab::bmc::make_driver(cl->driver);
  if (!driver) return fail(ab::message_of(driver.error()), 2);
  std::string out;
  auto err = ab::tools::run_bmc_command(**driver, *cl, out);
  std::fputs(out.c_str(), stdout);
  if (err) return fail(ab::message_of(err), 1);
  return 0;
}
