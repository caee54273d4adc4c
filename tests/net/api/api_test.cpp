// The REST API over real HTTP, on an embedded store.

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <future>
#include <thread>

#include "tests/fakes/wait.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

TEST_F(Api, HostsAreRegisteredReadPatchedAndDeleted) {
  start();
  register_hosts({"h1", "h2"});
  auto h = call("GET", "/v1/hosts/h1");
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["lifecycle_state"], "new");
  auto patched = call("PATCH", "/v1/hosts/h1", R"({"bmc_endpoint":"https://10.1.1.1"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body)["bmc_endpoint"], "https://10.1.1.1");
  EXPECT_EQ(call("PATCH", "/v1/hosts/h1", R"({"name":"other"})").status, 400);
  auto list = call("GET", "/v1/hosts?site=dc1");
  EXPECT_EQ(json::parse(list.body)["hosts"].size(), 2u);
  EXPECT_EQ(call("DELETE", "/v1/hosts/h2").status, 204);
  EXPECT_EQ(call("GET", "/v1/hosts/h2").status, 404);
  EXPECT_EQ(call("GET", "/v1/hosts?colour=red").status, 400);
}

TEST_F(Api, APatchWithABadBodyIsRefusedBeforeTheHostIsLookedUp) {
  start();
  register_hosts({"h1"});
  // As POST refuses it: a 400, for a known host and an unknown one alike (not a 404 first).
  for (const auto* name : {"h1", "ghost"}) {
    auto r =
        call("PATCH", std::string{"/v1/hosts/"} + name, R"({"bmc_endpoint":"ftp://10.1.1.1"})");
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_field") << name;
    EXPECT_EQ(call("PATCH", std::string{"/v1/hosts/"} + name, R"({"site":""})").status, 400);
  }
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/h1").body)["bmc_endpoint"], "https://bmc-h1");
  EXPECT_EQ(call("PATCH", "/v1/hosts/ghost", R"({"bmc_endpoint":"https://10.1.1.1"})").status, 404);
}

TEST_F(Api, SubmissionsAreAcceptedOnlyForKnownHostsAndIdempotent) {
  start();
  register_hosts({"h1", "h2"});
  auto unknown = call("POST", "/v1/requests", R"({"action":"reimage","host":"ghost"})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "unknown_host");
  const std::string body = R"({"action":"reimage","hosts":["h1","h2"],"priority":"maas"})";
  auto first = call("POST", "/v1/requests", body, "Idempotency-Key: abc\r\n");
  ASSERT_EQ(first.status, 202) << first.body;
  auto again = call("POST", "/v1/requests", body, "Idempotency-Key: abc\r\n");
  ASSERT_EQ(again.status, 202);
  EXPECT_EQ(json::parse(again.body), json::parse(first.body)) << "a retry gets the same answer";
  auto other = call("POST", "/v1/requests", R"({"action":"reimage","host":"h1"})",
                    "Idempotency-Key: abc\r\n");
  EXPECT_EQ(other.status, 409);
  auto busy = call("POST", "/v1/requests", R"({"action":"power_on","host":"h1"})");
  EXPECT_EQ(busy.status, 409);
  EXPECT_EQ(json::parse(busy.body)["error"]["code"], "host_busy");
  auto id = json::parse(first.body)["requests"][0]["id"].get<std::int64_t>();
  auto r = call("GET", "/v1/requests/" + std::to_string(id));
  ASSERT_EQ(r.status, 200);
  auto view = json::parse(r.body);
  EXPECT_EQ(view["state"], "queued");
  EXPECT_EQ(view["priority"], "maas");
  EXPECT_EQ(view["jobs"].size(), lifecycle::chain_of("reimage").size());
  EXPECT_EQ(call("GET", "/v1/requests/999999").status, 404);
  EXPECT_EQ(call("GET", "/v1/requests/abc").status, 404);
}

TEST_F(Api, RequestsAreListedPagedAndCancelled) {
  start();
  register_hosts({"a", "b", "c"});
  ASSERT_EQ(call("POST", "/v1/requests", R"({"action":"power_on","hosts":["a","b","c"]})").status,
            202);
  auto page = json::parse(call("GET", "/v1/requests?limit=2").body);
  ASSERT_EQ(page["requests"].size(), 2u);
  auto rest = json::parse(
      call("GET", "/v1/requests?limit=2&cursor=" + page["next_cursor"].get<std::string>()).body);
  EXPECT_EQ(rest["requests"].size(), 1u);
  auto id = std::to_string(rest["requests"][0]["id"].get<std::int64_t>());
  auto cancelled = call("POST", "/v1/requests/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(json::parse(cancelled.body)["state"], "cancelled");
  EXPECT_EQ(call("POST", "/v1/requests/" + id + "/cancel").status, 409);
  auto filtered = json::parse(call("GET", "/v1/requests?state=cancelled").body);
  EXPECT_EQ(filtered["requests"].size(), 1u);
  EXPECT_EQ(call("GET", "/v1/requests?state=bogus").status, 400);
}

TEST_F(Api, PathsAndMethodsAreChecked) {
  start();
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_EQ(call("GET", "/v2/anything").status, 404);
  auto wrong = call("PUT", "/v1/requests");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_NE(wrong.headers.find("Allow: POST, GET"), std::string::npos) << wrong.headers;
  auto bad = call("POST", "/v1/requests", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["code"], "malformed_json");
}

TEST_F(Api, ASaturatedNodeAnswers429AtOnceAndLosesNothing) {
  start(1, 1);
  register_hosts({"h0", "h1", "h2", "h3", "h4"});
  // The pool frees a slot just after the answer is sent: wait for it.
  ASSERT_TRUE(wait_until([&] { return api_->in_flight() == 0; }));
  // Hold SQLite's write lock from outside, so that the one store call the pool admits waits.
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<std::future<http_answer>> calls;
  for (int i = 0; i < 5; ++i)
    calls.push_back(std::async(std::launch::async, [this, i] {
      return call("POST", "/v1/requests",
                  R"({"action":"power_on","host":"h)" + std::to_string(i) + R"("})");
    }));
  // Four of five are refused at once, while the fifth still waits for the store.
  auto ready = [&] {
    int n = 0;
    for (auto& c : calls) n += c.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    return n;
  };
  for (int i = 0; i < 3000 && ready() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ready(), 4);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  int accepted = 0, refused = 0;
  std::string refused_host;
  for (int i = 0; i < 5; ++i) {
    auto a = calls[static_cast<std::size_t>(i)].get();
    if (a.status == 202) ++accepted;
    if (a.status == 429) {
      ++refused;
      refused_host = "h" + std::to_string(i);
      EXPECT_NE(a.headers.find("Retry-After: 1"), std::string::npos);
    }
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(refused, 4);
  // A refused submission stored nothing: its host is free.
  EXPECT_EQ(
      call("POST", "/v1/requests", R"({"action":"power_on","host":")" + refused_host + R"("})")
          .status,
      202);
}

}  // namespace ab::testing

namespace ab::testing {

TEST_F(Api, TheAdmissionLimitIsTheStoreShareTimesItsCallsPerActorWithinTheCap) {
  start(2, 64, [](net::api_options& o) { o.calls_per_store_actor = 3; });
  EXPECT_EQ(api_->admission_limit(), 6u);
  TearDown();
  start(2, 64, [](net::api_options& o) { o.calls_per_store_actor = 100; });
  EXPECT_EQ(api_->admission_limit(), 64u);
  TearDown();
  start(2, 64, [](net::api_options& o) { o.calls_per_store_actor = 0; });
  EXPECT_EQ(api_->admission_limit(), 64u);
}

TEST_F(Api, AtCapacityEveryCallButTheLivenessProbeIsRefusedBeforeItIsRoutedOrParsed) {
  start(1, 1);
  register_hosts({"h0"});
  ASSERT_TRUE(wait_until([&] { return api_->in_flight() == 0; }));
  // Hold SQLite's write lock from outside: the one admitted submission waits in the store.
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db_->url().substr(7).c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto held = std::async(std::launch::async, [this] {
    return call("POST", "/v1/requests", R"({"action":"power_on","host":"h0"})");
  });
  ASSERT_TRUE(wait_until([&] { return api_->in_flight() == 1; }));
  // No route, a body that does not parse, a route of no store: all 429, never 404 or 400.
  auto nowhere = call("GET", "/nowhere");
  auto garbage = call("POST", "/v1/requests", "{not json");
  auto node = call("GET", "/v1/node");
  auto alive = call("GET", "/healthz");
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  EXPECT_EQ(held.get().status, 202);
  EXPECT_EQ(nowhere.status, 429);
  EXPECT_EQ(garbage.status, 429);
  EXPECT_EQ(node.status, 429);
  EXPECT_NE(garbage.headers.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(alive.status, 200);
  // Refused calls did not count against the place: the next call is served.
  EXPECT_EQ(call("GET", "/nowhere").status, 404);
}

TEST_F(Api, AClientsNextCallNeverFindsThePlaceOfItsAnsweredCallStillTaken) {
  // One place: a call sent once the previous one was answered must get it, every time (the
  // place is freed before the answer leaves, not after).
  start(2, 1);
  int refused = 0;
  for (int i = 0; i < 200; ++i) refused += call("GET", "/v1/requests/1").status == 429;
  EXPECT_EQ(refused, 0);
}

TEST_F(Api, ARequestNotAllowedInTheHostsLifecycleStateIsRefusedWithTheReason) {
  start(2, 64,
        [](net::api_options& opts) { opts.rules = std::make_shared<const lifecycle::rules>(); });
  register_hosts({"h1", "h2"});
  auto r = call("POST", "/v1/requests", R"({"action":"reimage","host":"h1"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_state");
  EXPECT_NE(r.body.find("state new (only from in_service, provisioning_failed)"), std::string::npos)
      << r.body;
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"discover","host":"h1"})").status, 202);
  auto wipe = call("POST", "/v1/requests", R"({"action":"decommission","host":"h2"})");
  ASSERT_EQ(wipe.status, 202) << wipe.body;
  EXPECT_EQ(json::parse(call("GET", "/v1/hosts/h2").body)["lifecycle_state"], "wiping");
}

}  // namespace ab::testing

namespace ab::testing {

TEST_F(Api, AReadBeyondTheReadsShareIsRefusedWhileWritesAndProbesAreServed) {
  // A share of one microsecond a second: the first read (over loopback, through a store
  // actor: far more than a microsecond) spends it for longer than this test runs.
  start(2, 64, [](net::api_options& o) { o.read_ms_per_s = 0.001; });
  register_hosts({"h0", "h1"});
  EXPECT_EQ(call("GET", "/v1/hosts/h0").status, 200);
  auto refused = call("GET", "/v1/hosts/h1");
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("reads_at_share"), std::string::npos);
  EXPECT_NE(refused.headers.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/requests").status, 429);
  // Writes, the probes and the scrapes are never refused by the reads' share.
  EXPECT_EQ(call("POST", "/v1/requests", R"({"action":"power_on","host":"h1"})").status, 202);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_NE(call("GET", "/metrics").status, 429);
}

TEST_F(Api, WithoutAReadsShareReadsAreServedAsTheyCome) {
  start(2, 64, [](net::api_options& o) { o.read_ms_per_s = 0; });
  register_hosts({"h0"});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(call("GET", "/v1/hosts/h0").status, 200);
}

}  // namespace ab::testing
