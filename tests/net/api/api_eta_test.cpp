// Turnaround estimates over HTTP: unfinished requests carry `eta` and `progress`, a submission
// records its estimate, terminal requests carry none, and `GET /v1/queue` reports the queue.

#include "lifecycle/eta_board.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

namespace {

class ApiEta : public Api {
 protected:
  /// Serves the API with estimates for site dc1 (or none when `estimates` is false).
  void start_with(bool estimates) {
    start(2, 64, [this, estimates](net::api_options& o) {
      if (!estimates) return;
      lifecycle::eta_board_options eo;
      eo.site = "dc1";
      eo.assumed_ms = 60 * 1000;
      eo.refresh_ms = 0;
      board_ = std::make_shared<lifecycle::eta_board>(
          std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}),
          std::make_shared<system_clock>(), eo);
      o.eta = board_;
      o.cluster_of = [](const std::string& action) {
        return action == "power_on" ? std::string{"others"} : std::string{};
      };
    });
  }

  json get(const std::string& path) {
    auto a = call("GET", path);
    EXPECT_EQ(a.status, 200) << a.body;
    return json::parse(a.body, nullptr, false);
  }

  std::shared_ptr<lifecycle::eta_board> board_;
};

}  // namespace

TEST_F(ApiEta, UnfinishedRequestsCarryAnEstimateAndTheirProgress) {
  start_with(true);
  register_hosts({"a", "b", "c"});
  auto before = system_clock{}.now();
  auto sub = call("POST", "/v1/requests", R"({"action":"power_on","hosts":["a","b","c"]})");
  ASSERT_EQ(sub.status, 202) << sub.body;
  auto ids = json::parse(sub.body)["requests"];
  ASSERT_EQ(ids.size(), 3u);
  std::vector<std::int64_t> at;
  for (const auto& o : ids) {
    auto r = get("/v1/requests/" + std::to_string(o["id"].get<std::int64_t>()));
    ASSERT_TRUE(r.contains("eta")) << r.dump();
    const auto& eta = r["eta"];
    EXPECT_EQ(eta["basis"], "assumed");
    EXPECT_LE(eta["earliest_ms"].get<std::int64_t>(), eta["at_ms"].get<std::int64_t>());
    EXPECT_GE(eta["latest_ms"].get<std::int64_t>(), eta["at_ms"].get<std::int64_t>());
    EXPECT_GE(eta["earliest_ms"].get<std::int64_t>(), before);
    EXPECT_EQ(r["progress"]["done"], 0);
    EXPECT_EQ(r["progress"]["total"], lifecycle::chain_of("power_on").size());
    // The estimate made at submission is kept.
    EXPECT_GE(r["eta_at_submission_ms"].get<std::int64_t>(), before);
    at.push_back(eta["at_ms"].get<std::int64_t>());
  }
  // Nothing is known of the site: one at a time, so each is later than the one before.
  EXPECT_LT(at[0], at[1]);
  EXPECT_LT(at[1], at[2]);
  // The list carries them too.
  auto list = get("/v1/requests");
  ASSERT_EQ(list["requests"].size(), 3u);
  for (const auto& r : list["requests"]) {
    EXPECT_TRUE(r.contains("eta")) << r.dump();
    EXPECT_EQ(r["progress"]["total"], lifecycle::chain_of("power_on").size());
  }
  // A cancelled request has none, and the one behind it moves up.
  auto first = std::to_string(ids[0]["id"].get<std::int64_t>());
  ASSERT_EQ(call("POST", "/v1/requests/" + first + "/cancel").status, 200);
  auto cancelled = get("/v1/requests/" + first);
  EXPECT_FALSE(cancelled.contains("eta")) << cancelled.dump();
  EXPECT_TRUE(cancelled.contains("eta_at_submission_ms"));
  auto moved = get("/v1/requests/" + std::to_string(ids[2]["id"].get<std::int64_t>()));
  EXPECT_LT(moved["eta"]["at_ms"].get<std::int64_t>(), at[2] + 1000);
}

TEST_F(ApiEta, TheQueueIsReportedByClusterJobTypeAndClass) {
  start_with(true);
  register_hosts({"a", "b"});
  ASSERT_EQ(
      call("POST", "/v1/requests", R"({"action":"power_on","hosts":["a","b"],"priority":"maas"})")
          .status,
      202);
  auto q = get("/v1/queue");
  EXPECT_EQ(q["site"], "dc1");
  ASSERT_TRUE(q["clusters"].is_array());
  ASSERT_EQ(q["clusters"].size(), 1u) << q.dump();
  const auto& line = q["clusters"][0];
  EXPECT_EQ(line["cluster"], "others");
  EXPECT_EQ(line["job_type"], lifecycle::chain_of("power_on").front().type);
  EXPECT_EQ(line["class"], "maas");
  EXPECT_EQ(line["depth"], 2);
  EXPECT_GE(line["oldest_wait_ms"].get<std::int64_t>(), 0);
  EXPECT_EQ(line["completed_per_min"], 0);
}

TEST_F(ApiEta, WithoutEstimatesRequestsShowProgressOnlyAndTheQueueIsEmpty) {
  start_with(false);
  register_hosts({"a"});
  auto sub = call("POST", "/v1/requests", R"({"action":"power_on","host":"a"})");
  ASSERT_EQ(sub.status, 202) << sub.body;
  auto id = json::parse(sub.body)["requests"][0]["id"].get<std::int64_t>();
  auto r = get("/v1/requests/" + std::to_string(id));
  EXPECT_FALSE(r.contains("eta"));
  EXPECT_FALSE(r.contains("eta_at_submission_ms"));
  EXPECT_EQ(r["progress"]["done"], 0);
  auto q = get("/v1/queue");
  EXPECT_TRUE(q["clusters"].empty());
}

}  // namespace ab::testing
