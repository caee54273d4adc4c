#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "net/api/api.hpp"

namespace ab::testing {
namespace {

/// docs/openapi.json, parsed; fails the test when it is missing.
nlohmann::json openapi() {
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/docs/openapi.json"};
  EXPECT_TRUE(in) << "docs/openapi.json is missing";
  return in ? nlohmann::json::parse(in) : nlohmann::json::object();
}

}  // namespace

TEST(OpenApi, DocumentsEveryRouteTheServerServesAndNoOther) {
  const auto doc = openapi();
  ASSERT_TRUE(doc.contains("openapi"));
  EXPECT_EQ(doc.at("openapi").get<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [path, ops] : doc.at("paths").items())
    for (const auto& [method, op] : ops.items()) {
      auto m = method;
      std::transform(m.begin(), m.end(), m.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      documented.insert(m + " " + path);
      EXPECT_TRUE(op.contains("responses")) << m << " " << path;
    }
  auto served = net::api_service::routes();
  std::set<std::string> serving(served.begin(), served.end());
  for (const auto& r : serving)
    EXPECT_TRUE(documented.count(r)) << r << " is served but not documented";
  for (const auto& r : documented)
    EXPECT_TRUE(serving.count(r)) << r << " is documented but not served";
}

// Every call a node serves goes through its protocol gate (node/protocol_gate): a router's call
// of a version the node does not speak is answered 421 whatever its route.
TEST(OpenApi, EveryOperationDocumentsTheProtocolHeaderAndTheNodes421) {
  const auto doc = openapi();
  ASSERT_TRUE(doc.contains("components"));
  const auto& components = doc.at("components");
  const auto& header = components.at("parameters").at("Protocol");
  EXPECT_EQ(header.at("name"), "X-AB-Protocol");
  EXPECT_EQ(header.at("in"), "header");
  EXPECT_FALSE(header.at("required").get<bool>()) << "a client's call without it is taken";
  EXPECT_TRUE(components.at("responses").contains("ProtocolMismatch"));
  std::size_t operations = 0;
  for (const auto& [path, ops] : doc.at("paths").items())
    for (const auto& [method, op] : ops.items()) {
      ++operations;
      EXPECT_EQ(op.at("responses").value("421", nlohmann::json::object()).value("$ref", ""),
                "#/components/responses/ProtocolMismatch")
          << method << " " << path;
      auto params = op.value("parameters", nlohmann::json::array());
      EXPECT_TRUE(std::any_of(params.begin(), params.end(),
                              [](const nlohmann::json& p) {
                                return p.value("$ref", "") == "#/components/parameters/Protocol";
                              }))
          << method << " " << path;
    }
  EXPECT_EQ(operations, net::api_service::routes().size());
}

}  // namespace ab::testing
