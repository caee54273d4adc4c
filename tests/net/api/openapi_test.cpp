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

}  // namespace ab::testing
