#include "bmc/detail/ipmitool_output.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace ab::bmc::detail {
namespace {

// What ipmitool -v printed against ipmi_sim (Debian 12, ipmitool 1.8.19).
constexpr const char* wrong_password =
    "Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\n"
    "Error: Unable to establish IPMI v2 / RMCP+ session\n";
constexpr const char* unknown_user =
    "Loading IANA PEN Registry...\nRAKP 2 message indicates an error : unauthorized name\n"
    "Error: Unable to establish IPMI v2 / RMCP+ session\n";
constexpr const char* no_answer =
    "Loading IANA PEN Registry...\nGet Auth Capabilities error\n"
    "Error issuing Get Channel Authentication Capabilities request\n"
    "Error: Unable to establish IPMI v2 / RMCP+ session\n";
constexpr const char* refused =
    "Loading IANA PEN Registry...\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target "
    "0x20\nInvalid completion code received: Invalid command\nDiscovered IPMB address 0x0\n"
    "Set Chassis Power Control to Cycle failed: Command not supported in present state\n";

TEST(IpmitoolOutput, RefusedCredentialsAreAuthFailuresWithRakpReason) {
  EXPECT_EQ(classify_failure(wrong_password), ipmitool_failure::auth);
  EXPECT_EQ(failure_reason(wrong_password), "RAKP 2 HMAC is invalid");
  EXPECT_EQ(classify_failure(unknown_user), ipmitool_failure::auth);
  EXPECT_EQ(failure_reason(unknown_user), "RAKP 2 message indicates an error : unauthorized name");
}

TEST(IpmitoolOutput, ASilentBmcIsTransientWithTheLineBeforeTheSessionError) {
  EXPECT_EQ(classify_failure(no_answer), ipmitool_failure::transient);
  EXPECT_EQ(failure_reason(no_answer),
            "Error issuing Get Channel Authentication Capabilities request");
}

TEST(IpmitoolOutput, ACompletionCodeIsAnotherFailureAndVerboseChatterIsSkipped) {
  EXPECT_EQ(classify_failure(refused), ipmitool_failure::other);
  EXPECT_EQ(failure_reason(refused),
            "Set Chassis Power Control to Cycle failed: Command not supported in present state");
  EXPECT_EQ(failure_reason(""), "no output");
}

TEST(IpmitoolOutput, PowerStatusIsOnOrOffAndAnythingElseAnError) {
  EXPECT_EQ(parse_power_status("Chassis Power is on\n"), power_state::on);
  EXPECT_EQ(parse_power_status("Chassis Power is off\n"), power_state::off);
  auto odd = parse_power_status("Chassis Power is sideways\n");
  ASSERT_FALSE(odd);
  EXPECT_TRUE(is(odd.error(), errc::unavailable));
}

TEST(IpmitoolOutput, FruPrefersProductFieldsThenBoardFields) {
  auto product = parse_fru(
      "FRU Device Description : Builtin FRU Device (ID 0)\n"
      " Board Mfg             : Board Maker\n"
      " Product Manufacturer  : Example Corp\n"
      " Product Name          : AB-1000\n"
      " Product Serial        : SN-0042\n");
  EXPECT_EQ(product.manufacturer, "Example Corp");
  EXPECT_EQ(product.model, "AB-1000");
  EXPECT_EQ(product.serial, "SN-0042");
  auto board = parse_fru(
      " Board Mfg             : Board Maker\n Board Product         : Mainboard X\n"
      " Board Serial          : B-7\n");
  EXPECT_EQ(board.manufacturer, "Board Maker");
  EXPECT_EQ(board.model, "Mainboard X");
  EXPECT_EQ(board.serial, "B-7");
  EXPECT_TRUE(parse_fru(" Device not present (Invalid data field in request)\n").serial.empty());
}

}  // namespace
}  // namespace ab::bmc::detail
