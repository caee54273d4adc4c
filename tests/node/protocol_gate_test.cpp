// The node's side of the router-node protocol on API calls.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node/protocol_gate.hpp"

namespace ab::testing {
namespace {

net::http_request call_with(const std::string& protocol) {
  net::http_request r;
  r.method = "GET";
  r.target = "/v1/requests";
  if (!protocol.empty()) r.headers["x-ab-protocol"] = protocol;
  return r;
}

}  // namespace

TEST(ProtocolGate, TakesCallsOfAVersionItSpeaksAndCallsWithoutTheHeader) {
  EXPECT_FALSE(node::protocol_refusal(call_with(""), {1, 2}));
  EXPECT_FALSE(node::protocol_refusal(call_with("1"), {1, 2}));
  EXPECT_FALSE(node::protocol_refusal(call_with("2"), {1, 2}));
}

TEST(ProtocolGate, RefusesAVersionItDoesNotSpeakWith421AndSaysWhatItSpeaks) {
  for (const std::string v : {"3", "0", "2x", "-1", " 2", "99999999999"}) {
    auto no = node::protocol_refusal(call_with(v), {1, 2});
    ASSERT_TRUE(no) << v;
    EXPECT_EQ(no->status, 421) << v;
    auto doc = nlohmann::json::parse(no->body, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << no->body;
    EXPECT_EQ(doc["error"]["code"], "protocol_mismatch") << no->body;
    EXPECT_NE(doc["error"]["message"].get<std::string>().find("it speaks 1-2"), std::string::npos)
        << no->body;
  }
  EXPECT_TRUE(node::protocol_refusal(call_with("1"), {2, 3}));
}

TEST(ProtocolGate, NamesTheNodeAndItsVersionInAnAnswer) {
  net::http_response r;
  node::add_node_headers(r, "n1", "0.2.0");
  EXPECT_EQ(r.headers, (std::vector<std::pair<std::string, std::string>>{
                           {"X-AB-Node", "n1"}, {"X-AB-Node-Version", "0.2.0"}}));
}

}  // namespace ab::testing
