// BMC capabilities by interface: the resolver of endpoint schemes, what each driver can ever
// do, and what a Redfish discovery finds a BMC lacks.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bmc/driver_factory.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/error.hpp"
#include "tests/bmc/fake_redfish.hpp"

namespace ab::bmc {
namespace {

const std::string rackmount = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-rackmount1";
const std::string localstorage = AB_SOURCE_DIR "/tests/data/redfish-mockups/public-localstorage";

TEST(EndpointRoutes, EachSchemeLeadsToItsDriverWithTheAddressItTakes) {
  auto https = route_of("https://bmc-1.dc1:8443/prefix");
  ASSERT_TRUE(https);
  EXPECT_EQ(https->driver, "redfish");
  EXPECT_EQ(https->address, "https://bmc-1.dc1:8443/prefix");
  EXPECT_EQ(route_of("http://10.0.0.1")->driver, "redfish");
  auto ipmi = route_of("ipmi://10.0.0.2:623");
  ASSERT_TRUE(ipmi);
  EXPECT_EQ(ipmi->driver, "ipmi");
  EXPECT_EQ(ipmi->address, "10.0.0.2:623");
  for (const auto* bad : {"telnet://x", "bmc-1", "", "IPMI://x"})
    EXPECT_TRUE(is(route_of(bad).error(), errc::invalid_argument)) << bad;
}

TEST(DriverResolver, TheStandardDriversSayWhatTheyCanEverDo) {
  auto drivers = driver_resolver::standard();
  EXPECT_EQ(*drivers->capabilities_of("https://bmc-1"), capability_set::all());
  EXPECT_EQ(*drivers->capabilities_of("ipmi://bmc-2"),
            (capability_set{capability::power, capability::boot, capability::inventory}));
  EXPECT_TRUE(is(drivers->capabilities_of("ftp://bmc-3").error(), errc::invalid_argument));
  auto r = drivers->resolve("ipmi://bmc-2:6230");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->driver->name(), "ipmi");
  EXPECT_EQ(r->address, "bmc-2:6230");
}

/// A driver that offers only power, standing in for a wrapped one.
class power_only final : public driver, public power_control {
 public:
  explicit power_only(std::shared_ptr<driver> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "wrapped " + inner_->name(); }
  power_control* power_interface() override { return this; }
  caf::expected<power_state> power(const target&) override { return power_state::on; }
  caf::error set_power(const target&, power_action) override { return {}; }

 private:
  std::shared_ptr<driver> inner_;
};

TEST(DriverResolver, HandsOutEachDriverThroughTheWrapperOnce) {
  int wrapped = 0;
  auto drivers = driver_resolver::standard([&](std::shared_ptr<driver> d) {
    ++wrapped;
    return std::make_shared<power_only>(std::move(d));
  });
  EXPECT_EQ(wrapped, 2);
  auto a = drivers->resolve("https://a");
  auto b = drivers->resolve("http://b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->driver, b->driver) << "one instance per driver";
  EXPECT_EQ(a->driver->name(), "wrapped redfish");
  EXPECT_EQ(*drivers->capabilities_of("ipmi://c"), capability_set{capability::power});
}

TEST(DriverResolver, ANodeWithoutADriverRefusesItsScheme) {
  driver_resolver only_redfish(
      {{"redfish", driver_resolver::standard()->resolve("https://x")->driver}});
  EXPECT_TRUE(only_redfish.resolve("https://x"));
  auto r = only_redfish.resolve("ipmi://x");
  ASSERT_FALSE(r);
  EXPECT_NE(message_of(r.error()).find("no ipmi driver"), std::string::npos);
}

TEST(CapabilitySet, AddsSubtractsAndNamesItsMembers) {
  capability_set needs{capability::media, capability::boot, capability::power};
  capability_set ipmi{capability::power, capability::boot, capability::inventory};
  EXPECT_FALSE(ipmi.contains(needs));
  EXPECT_EQ(needs - ipmi, capability_set{capability::media});
  EXPECT_EQ((needs - ipmi).describe(), "media");
  EXPECT_EQ((needs & ipmi).describe(), "power, boot");
  EXPECT_EQ(capability_set{}.describe(), "none");
  EXPECT_TRUE(capability_set::all().contains(needs | ipmi));
  for (auto c : every_capability) EXPECT_EQ(capability_named(to_string(c)), c);
  EXPECT_FALSE(capability_named("teleport"));
}

TEST(DiscoveryFacts, WhatAnInventoryLacksIsReadBackFromTheHostsFacts) {
  inventory inv;
  inv.manufacturer = "Contoso";
  inv.lacks = {capability::media, capability::erase};
  auto facts = nlohmann::json(inv).dump();
  EXPECT_EQ(lacks_in_facts(facts), (capability_set{capability::media, capability::erase}));
  EXPECT_EQ(lacks_in_facts(nlohmann::json(inventory{}).dump()), capability_set{});
  // Facts of an older node, none at all, or not JSON: nothing is known to be missing.
  EXPECT_EQ(lacks_in_facts(R"({"manufacturer":"Contoso"})"), capability_set{});
  EXPECT_EQ(lacks_in_facts("{}"), capability_set{});
  EXPECT_EQ(lacks_in_facts("not json"), capability_set{});
  EXPECT_EQ(lacks_in_facts(R"({"bmc_lacks":["media","warp",7]})"),
            capability_set{capability::media});
}

class RedfishDiscovery : public ::testing::Test {
 protected:
  static testing::fake_redfish_options mockup(const std::string& dir) {
    testing::fake_redfish_options o;
    o.mockup_dir = dir;
    return o;
  }
  static target target_for(const testing::fake_redfish& f) {
    target t;
    t.endpoint = f.endpoint();
    t.user = "admin";
    t.password = "secret";
    t.timeout = std::chrono::seconds(5);
    return t;
  }
  redfish_driver driver_;
};

TEST_F(RedfishDiscovery, FindsNothingLackingOnABmcWithVirtualMediaAndSecureErase) {
  testing::fake_redfish f(mockup(localstorage));
  auto inv = driver_.read_inventory(target_for(f));
  ASSERT_TRUE(inv) << message_of(inv.error());
  EXPECT_EQ(inv->lacks, capability_set{});
}

TEST_F(RedfishDiscovery, FindsTheEraseLackingWhereDrivesHaveNoSecureErase) {
  // The rackmount mockup's drives are SimpleStorage devices: no erase action at all.
  testing::fake_redfish f(mockup(rackmount));
  auto inv = driver_.read_inventory(target_for(f));
  ASSERT_TRUE(inv) << message_of(inv.error());
  EXPECT_EQ(inv->lacks, capability_set{capability::erase});
}

TEST_F(RedfishDiscovery, FindsTheMediaLackingWhereNoVirtualCdIsOffered) {
  testing::fake_redfish f(mockup(localstorage));
  const std::string cd = "/redfish/v1/Managers/BMC/VirtualMedia/CD1";
  auto media = f.resource(cd);
  media["MediaTypes"] = nlohmann::json::array({"USBStick"});
  f.set_resource(cd, media);
  auto inv = driver_.read_inventory(target_for(f));
  ASSERT_TRUE(inv) << message_of(inv.error());
  EXPECT_TRUE(inv->lacks.has(capability::media));
  EXPECT_TRUE(is(driver_.set_media(target_for(f), "http://images/os.iso"), errc::invalid_argument))
      << "the finding agrees with what an insert would meet";
}

}  // namespace
}  // namespace ab::bmc
