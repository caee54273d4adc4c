#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "net/api/api.hpp"

namespace ab::testing {

TEST(OpenApi, DocumentsEveryRouteTheServerServesAndNoOther) {
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/docs/openapi.json"};
  ASSERT_TRUE(in) << "docs/openapi.json is missing";
  auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [path, ops] : doc["paths"].items())
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
  std::ifstream in{std::string{AB_SOURCE_DIR} + "/docs/openapi.json"};
  ASSERT_TRUE(in) << "docs/openapi.json is missing";
  auto doc = nlohmann::json::parse(in);
  const auto& header = doc["components"]["parameters"]["Protocol"];
  EXPECT_EQ(header["name"], "X-AB-Protocol");
  EXPECT_EQ(header["in"], "header");
  EXPECT_FALSE(header["required"].get<bool>()) << "a client's call without it is taken";
  EXPECT_TRUE(doc["components"]["responses"].contains("ProtocolMismatch"));
  std::size_t operations = 0;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      ++operations;
      EXPECT_EQ(op["responses"]["421"].value("$ref", ""),
                "#/components/responses/ProtocolMismatch")
          << method << " " << path;
      auto params = op.value("parameters", nlohmann::json::array());
      EXPECT_TRUE(std::any_of(params.begin(), params.end(), [](const nlohmann::json& p) {
        return p.value("$ref", "") == "#/components/parameters/Protocol";
      })) << method << " " << path;
    }
  EXPECT_EQ(operations, net::api_service::routes().size());
}

}  // namespace ab::testing
