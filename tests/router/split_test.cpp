// Calls that span sites: the hosts read from a body, one body per site, one merged answer.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "router/split.hpp"

namespace ab::testing {
namespace {

using json = nlohmann::json;

TEST(ReadSubmission, TakesTheHostsAndTheExplicitSiteAndDropsTheSiteField) {
  auto r = router::read_submission(R"({"action":"reboot","hosts":["a","b"],"site":"dc2"})");
  ASSERT_TRUE(std::holds_alternative<router::submission>(r));
  auto& s = std::get<router::submission>(r);
  EXPECT_EQ(s.hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.site, "dc2");
  EXPECT_FALSE(s.doc.contains("site"));
  auto one = std::get<router::submission>(router::read_submission(R"({"action":"x","host":"h"})"));
  EXPECT_EQ(one.hosts, (std::vector<std::string>{"h"}));
  EXPECT_EQ(json::parse(router::submission_part(one, {"h"})),
            json::parse(R"({"action":"x","host":"h"})"));
}

TEST(ReadSubmission, LeavesAMalformedBodyToTheNodeAndRefusesABadSite) {
  for (const char* body : {"not json", "[]", R"({"action":"x"})", R"({"hosts":[1]})",
                           R"({"host":"a","hosts":["b"]})", R"({"hosts":["bad name"]})"}) {
    auto r = router::read_submission(body);
    ASSERT_TRUE(std::holds_alternative<router::submission>(r)) << body;
    EXPECT_TRUE(std::get<router::submission>(r).hosts.empty()) << body;
  }
  auto r = router::read_submission(R"({"action":"x","host":"a","site":"Bad Site"})");
  ASSERT_TRUE(std::holds_alternative<net::api_error>(r));
  EXPECT_EQ(std::get<net::api_error>(r).status, 400);
}

TEST(SplitSubmission, EachSitesPartNamesItsHostsInOrder) {
  auto s = std::get<router::submission>(
      router::read_submission(R"({"action":"reboot","hosts":["a","b","c"],"priority":"maas"})"));
  auto part = json::parse(router::submission_part(s, {"a", "c"}));
  EXPECT_EQ(part, json::parse(R"({"action":"reboot","hosts":["a","c"],"priority":"maas",
                                  "whole_call_hosts":3})"));
}

TEST(SplitSubmission, APartOfASplitCallCarriesTheWholeCallsHostCountAndNeverTheCallers) {
  // The caller's own whole_call_hosts is dropped: a part's count is the router's to say.
  auto s = std::get<router::submission>(router::read_submission(
      R"({"action":"wipe","hosts":["a","b","c"],"confirm_hosts":3,"whole_call_hosts":1})"));
  EXPECT_FALSE(s.doc.contains("whole_call_hosts"));
  EXPECT_EQ(json::parse(router::submission_part(s, {"a", "c"})),
            json::parse(R"({"action":"wipe","hosts":["a","c"],"confirm_hosts":3,
                            "whole_call_hosts":3})"));
  // The whole call in one part is the call as the caller sent it.
  EXPECT_EQ(json::parse(router::submission_part(s, {"a", "b", "c"})),
            json::parse(R"({"action":"wipe","hosts":["a","b","c"],"confirm_hosts":3})"));
}

router::part_outcome accepted(const std::string& site, std::vector<std::string> hosts,
                              std::int64_t first_id) {
  json requests = json::array();
  for (const auto& h : hosts)
    requests.push_back({{"host", h}, {"id", first_id++}, {"status", "accepted"}});
  return {site, std::move(hosts), 202, json{{"requests", requests}}.dump()};
}

TEST(MergeSubmission, EverySiteAcceptedIs202WithEveryHostInTheSubmissionsOrder) {
  auto a = router::merge_submission({"a", "b", "c"}, {accepted("dc1", {"a", "c"}, 1000000000001),
                                                      accepted("dc2", {"b"}, 2000000000001)});
  EXPECT_EQ(a.status, 202);
  auto doc = json::parse(a.body);
  ASSERT_EQ(doc["requests"].size(), 3u);
  EXPECT_EQ(doc["requests"][0]["host"], "a");
  EXPECT_EQ(doc["requests"][0]["id"], 1000000000001);
  EXPECT_EQ(doc["requests"][0]["site"], "dc1");
  EXPECT_EQ(doc["requests"][1]["host"], "b");
  EXPECT_EQ(doc["requests"][1]["site"], "dc2");
  EXPECT_EQ(doc["requests"][2]["id"], 1000000000002);
  ASSERT_EQ(doc["sites"].size(), 2u);
  EXPECT_EQ(doc["sites"][1], json::parse(R"({"site":"dc2","status":202,"hosts":["b"]})"));
}

TEST(MergeSubmission, ASiteThatFailedIsReportedWithItsHostsAnd207) {
  router::part_outcome busy{
      "dc2", {"b"}, 409, R"({"error":{"code":"invalid_state","message":"no"}})"};
  auto a = router::merge_submission({"a", "b"}, {accepted("dc1", {"a"}, 1), busy});
  EXPECT_EQ(a.status, 207);
  auto doc = json::parse(a.body);
  EXPECT_EQ(doc["requests"][0]["status"], "accepted");
  EXPECT_EQ(doc["requests"][1]["status"], "refused");
  EXPECT_EQ(doc["requests"][1]["error"]["code"], "invalid_state");
  EXPECT_TRUE(doc["requests"][1]["id"].is_null());
  EXPECT_EQ(doc["sites"][1]["error"]["code"], "invalid_state");
  router::part_outcome down{
      "dc3", {"c"}, 503, R"({"error":{"code":"site_unavailable","message":"x"}})"};
  auto b = router::merge_submission({"a", "c"}, {accepted("dc1", {"a"}, 1), down});
  EXPECT_EQ(json::parse(b.body)["requests"][1]["status"], "failed");
}

TEST(MergeSubmission, EveryPartFailingAlikeGivesThatStatusAndError) {
  router::part_outcome a{
      "dc1", {"a"}, 401, R"({"error":{"code":"unauthenticated","message":"x"}})"};
  router::part_outcome b{
      "dc2", {"b"}, 401, R"({"error":{"code":"unauthenticated","message":"x"}})"};
  auto m = router::merge_submission({"a", "b"}, {a, b});
  EXPECT_EQ(m.status, 401);
  EXPECT_EQ(json::parse(m.body)["error"]["code"], "unauthenticated");
}

TEST(SplitRegistration, HostsAreGroupedByTheirSiteField) {
  auto r = router::read_registration(
      R"({"hosts":[{"name":"a","site":"dc1"},{"name":"b","site":"dc2"}]})");
  ASSERT_TRUE(r.routable);
  EXPECT_EQ(r.sites, (std::vector<std::string>{"dc1", "dc2"}));
  EXPECT_FALSE(router::read_registration(R"({"hosts":[{"name":"a"}]})").routable);
  EXPECT_FALSE(router::read_registration("nope").routable);
  // A node answers the number of hosts it stored; the merged answer counts every site's.
  auto merged = router::merge_registration(
      {{"dc1", {"a"}, 201, R"({"hosts":1})"},
       {"dc2", {"b"}, 422, R"({"error":{"code":"invalid_host","message":"x"}})"}});
  EXPECT_EQ(merged.status, 207);
  auto doc = json::parse(merged.body);
  EXPECT_EQ(doc["hosts"], 1);
  EXPECT_EQ(doc["sites"][1]["error"]["code"], "invalid_host");
  auto both = router::merge_registration(
      {{"dc1", {"a"}, 201, R"({"hosts":1})"}, {"dc2", {"b", "c"}, 201, R"({"hosts":2})"}});
  EXPECT_EQ(both.status, 201);
  EXPECT_EQ(json::parse(both.body)["hosts"], 3) << both.body;
}

TEST(MergeQueues, EverySitesRowsComeWithTheirSiteAndASiteThatFailedIsNamed) {
  std::vector<router::part_outcome> parts{
      {"dc1", {}, 200, R"({"site":"dc1","clusters":[{"cluster":"build","depth":3}]})"},
      {"dc2", {}, 200, R"({"site":"dc2","clusters":[{"cluster":"all","depth":1},7]})"}};
  auto all = router::merge_queues(parts);
  EXPECT_EQ(all.status, 200);
  auto doc = json::parse(all.body);
  ASSERT_EQ(doc["clusters"].size(), 2u) << all.body;
  EXPECT_EQ(doc["clusters"][0]["site"], "dc1");
  EXPECT_EQ(doc["clusters"][0]["depth"], 3);
  EXPECT_EQ(doc["clusters"][1]["site"], "dc2");
  parts[1] = {"dc2", {}, 503, R"({"error":{"code":"site_unavailable","message":"no node"}})"};
  auto some = router::merge_queues(parts);
  EXPECT_EQ(some.status, 207);
  doc = json::parse(some.body);
  EXPECT_EQ(doc["clusters"].size(), 1u);
  EXPECT_EQ(doc["sites"][1]["site"], "dc2");
  EXPECT_EQ(doc["sites"][1]["error"]["code"], "site_unavailable");
}

}  // namespace
}  // namespace ab::testing
