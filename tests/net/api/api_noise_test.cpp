// Noise from the network: failed authentications and callback-token guesses limited per
// source (429), audited in aggregate, and audit fields bounded. Calls go straight to
// `api_service::handle` with a chosen peer address, on a scratch SQLite store and a manual
// clock.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "lifecycle/workflows.hpp"
#include "net/api/api.hpp"
#include "tests/fakes/manual_clock.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

namespace {

using json = nlohmann::json;

const std::string good_token = "Bearer ci-token";
// base64 of alice:pw and alice:wrong
const std::string basic_alice = "Basic YWxpY2U6cHc=";
const std::string basic_wrong = "Basic YWxpY2U6d3Jvbmc=";

class ApiNoise : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-noise-");
    std::ofstream(dir_ / "policy.json") << R"({
      "accounts": {"ci": {"token_sha256": ")" + auth::sha256_hex("ci-token") +
                                               R"(", "roles": ["reader"]}},
      "groups": {"ops": ["reader"]},
      "roles": {"reader": [{"actions": ["read", "audit.read"]}]}
    })";
    auth::authenticator_options o;
    o.policy_file = (dir_ / "policy.json").string();
    for (const auto& [action, steps] : lifecycle::workflows()) o.words.actions.push_back(action);
    o.words.classes = {"maas", "user", "organic"};
    o.watch_interval = {};
    o.directory = [this](const std::string& login,
                         const std::string& password) -> caf::expected<auth::directory_user> {
      ++binds_;
      if (login == "alice" && password == "pw")
        return auth::directory_user{"alice", "uid=alice", {"ops"}};
      return make_error(errc::unauthenticated, "invalid login or password");
    };
    auto a = auth::authenticator::open(std::move(o));
    ASSERT_TRUE(a) << message_of(a.error());
    clock_ = std::make_shared<manual_clock>();
    db_ = std::make_unique<scratch_store>("sqlite", clock_);
    ASSERT_FALSE(HasFailure());
    store_ = std::shared_ptr<storage::store>(&**db_, [](storage::store*) {});
    audit_ = std::make_shared<net::audit_trail>(store_, std::chrono::milliseconds{10}, 100000,
                                                clock_, 60000);
    net::api_options opts;
    opts.rules = std::make_shared<const lifecycle::rules>(lifecycle::rules_options{false, {}});
    opts.store_actors = 2;
    opts.auth = std::move(*a);
    opts.audit = audit_;
    opts.failures = {10, 60000, 1000};
    opts.clock = clock_;
    // Routers whose X-Forwarded-For names the client (the tests at the end).
    opts.trusted_routers = *ip_networks::parse({"10.9.0.0/16"});
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    api_ = std::make_unique<net::api_service>(*sys_, store_, opts);
  }
  void TearDown() override {
    api_.reset();
    sys_.reset();
    audit_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  /// Serves one call from `peer` and waits for its answer.
  net::http_response call(const std::string& method, const std::string& path,
                          const std::string& peer, std::map<std::string, std::string> headers = {},
                          const std::string& body = "") {
    net::http_request req;
    req.method = method;
    req.target = path;
    req.body = body;
    req.headers = std::move(headers);
    req.remote = peer + ":40000";
    auto answer = std::make_shared<std::promise<net::http_response>>();
    auto got = answer->get_future();
    api_->handle(std::move(req), [answer](net::http_response r) { answer->set_value(r); });
    EXPECT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return got.get();
  }

  int status(const std::string& peer, const std::string& authorization) {
    return call("GET", "/v1/requests", peer, {{"authorization", authorization}}).status;
  }

  static std::string header(const net::http_response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  /// Every audit entry, oldest first, once written.
  std::vector<storage::audit_entry> trail() {
    audit_->flush();
    storage::audit_filter f;
    f.limit = 1000;
    auto entries = store_->audit_log(f);
    EXPECT_TRUE(entries);
    auto out = entries ? *entries : std::vector<storage::audit_entry>{};
    std::reverse(out.begin(), out.end());
    return out;
  }

  std::filesystem::path dir_;
  std::shared_ptr<manual_clock> clock_;
  std::unique_ptr<scratch_store> db_;
  std::shared_ptr<storage::store> store_;
  std::shared_ptr<net::audit_trail> audit_;
  caf::actor_system_config sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<net::api_service> api_;
  std::atomic<int> binds_{0};
};

}  // namespace

TEST_F(ApiNoise, ABurstOfBadTokensIsRefusedWith429WhileOtherSourcesStillGet401) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(status("10.0.0.1", "Bearer guess"), 401) << i;
  auto limited = call("GET", "/v1/requests", "10.0.0.1", {{"authorization", "Bearer guess"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(json::parse(limited.body)["error"]["code"], "too_many_failures");
  EXPECT_EQ(header(limited, "Retry-After"), "60");
  // A limited source is limited for every call that needs credentials, a good token included:
  // telling a good token from a bad one is what the limit withholds.
  EXPECT_EQ(status("10.0.0.1", good_token), 429);
  EXPECT_EQ(status("10.0.0.2", "Bearer guess"), 401) << "another source is counted apart";
  EXPECT_EQ(status("10.0.0.2", good_token), 200);
  EXPECT_EQ(call("GET", "/healthz", "10.0.0.1").status, 200) << "probes stay open";
  clock_->advance(30000);
  EXPECT_EQ(header(call("GET", "/v1/requests", "10.0.0.1", {{"authorization", good_token}}),
                   "Retry-After"),
            "30");
  clock_->advance(30000);
  EXPECT_EQ(status("10.0.0.1", good_token), 200) << "the window has passed";
  EXPECT_EQ(status("10.0.0.1", "Bearer guess"), 401);
}

TEST_F(ApiNoise, AnIpv6HostCannotEscapeTheLimitByChangingItsInterfaceId) {
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(status("[2001:db8:1:2::" + std::to_string(i + 1) + "]", "Bearer guess"), 401);
  EXPECT_EQ(status("[2001:db8:1:2::ff]", "Bearer guess"), 429) << "one /64";
  EXPECT_EQ(status("[2001:db8:1:3::1]", "Bearer guess"), 401) << "another /64";
}

TEST_F(ApiNoise, ALimitedSourceIsRefusedBeforeTheDirectoryIsAsked) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(status("10.0.0.1", basic_wrong), 401);
  EXPECT_EQ(binds_.load(), 10);
  EXPECT_EQ(status("10.0.0.1", basic_wrong), 429);
  EXPECT_EQ(status("10.0.0.1", basic_alice), 429);
  EXPECT_EQ(binds_.load(), 10) << "no bind for a refused source";
  EXPECT_EQ(status("10.0.0.2", basic_alice), 200);
}

TEST_F(ApiNoise, SuccessfulCallsAreNeverCountedAgainstTheirSource) {
  for (int i = 0; i < 50; ++i) ASSERT_EQ(status("10.0.0.1", good_token), 200) << i;
  for (int i = 0; i < 9; ++i) EXPECT_EQ(status("10.0.0.1", "Bearer guess"), 401);
  EXPECT_EQ(status("10.0.0.1", good_token), 200) << "nine failures are within the limit";
}

TEST_F(ApiNoise, CallbackTokenGuessesAreLimitedPerSource) {
  storage::request_spec s;
  s.action = "reimage";
  s.host = "web-1";
  s.site = "dc1";
  s.submitter = "t";
  s.chain = {{"t", 3, 0}};
  auto out = store_->submit({s});
  ASSERT_TRUE(out);
  auto id = out->at(0).id;
  auto token = auth::random_token();
  ASSERT_FALSE(store_->issue_callback(
      {id, auth::sha256_hex(token), "install:" + std::to_string(id), clock_->now() + 600000}));
  auto path = "/v1/callbacks/" + std::to_string(id);
  const std::string body = R"({"status":"succeeded"})";
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(
        call("POST", path, "10.0.0.1", {{"x-callback-token", "guess" + std::to_string(i)}}, body)
            .status,
        401);
  auto limited = call("POST", path, "10.0.0.1", {{"x-callback-token", token}}, body);
  EXPECT_EQ(limited.status, 429) << "the real token too, from the guessing source";
  EXPECT_EQ(header(limited, "Retry-After"), "60");
  EXPECT_EQ(status("10.0.0.1", good_token), 200)
      << "callback guesses and account logins are counted apart";
  EXPECT_EQ(call("POST", path, "10.0.0.2", {{"x-callback-token", token}}, body).status, 202)
      << "the installer's own address is not limited";
}

TEST_F(ApiNoise, AHundredBadTokensLeaveAHandfulOfAuditEntriesNotAHundred) {
  for (int i = 0; i < 100; ++i) status("10.0.0.1", "Bearer guess" + std::to_string(i));
  for (int i = 0; i < 3; ++i) status("10.0.0.2", "Bearer guess");
  EXPECT_EQ(status("10.0.0.3", good_token), 200);
  auto entries = trail();
  ASSERT_EQ(entries.size(), 5u);
  std::map<std::string, std::vector<storage::audit_entry>> by_source;
  for (const auto& e : entries) by_source[e.source].push_back(e);
  ASSERT_EQ(by_source["10.0.0.1"].size(), 2u);
  const auto& first = by_source["10.0.0.1"][0];
  EXPECT_EQ(first.actor, "-");
  EXPECT_EQ(first.decision, "denied");
  EXPECT_EQ(first.action, "GET /v1/requests");
  const auto& summary = by_source["10.0.0.1"][1];
  EXPECT_EQ(summary.detail, "99 more failed authentications from 10.0.0.1 in 0 s");
  EXPECT_EQ(summary.decision, "denied");
  ASSERT_EQ(by_source["10.0.0.2"].size(), 2u);
  EXPECT_EQ(by_source["10.0.0.2"][1].detail, "2 more failed authentications from 10.0.0.2 in 0 s");
  EXPECT_EQ(by_source["10.0.0.3"].at(0).decision, "accepted")
      << "successes are recorded one by one";
}

TEST_F(ApiNoise, AnIpv6HostRotatingItsAddressesIsAuditedAsOneSource) {
  for (int i = 0; i < 50; ++i) status("[2001:db8:1:2::" + std::to_string(i + 1) + "]", "Bearer x");
  auto entries = trail();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].source, "2001:db8:1:2::1");
  EXPECT_EQ(entries[1].detail, "49 more failed authentications from 2001:db8:1:2::/64 in 0 s");
}

TEST_F(ApiNoise, TheAuditTrailTracksBoundedSourcesAndClosesTheOldestWindowEarly) {
  storage::audit_entry e{0, 0, "first", "10.0.0.0", "GET /v1/requests", "/", "denied", "401"};
  audit_->record_refusal(e, "failed authentications");
  audit_->record_refusal(e, "failed authentications");
  e.actor = "other";
  for (int i = 1; i <= 10000; ++i) {
    e.source = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
               std::to_string(i % 256);
    audit_->record_refusal(e, "failed authentications");
  }
  audit_->flush();
  storage::audit_filter f;
  f.actor = "first";
  auto first = store_->audit_log(f);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u) << "the oldest window was closed with its count";
  EXPECT_EQ(first->at(0).detail, "1 more failed authentications from 10.0.0.0 in 0 s");
}

TEST_F(ApiNoise, ARefusalCountedIntoAnOpenWindowIsSummarisedLikeARecordedOne) {
  // Nothing is open for the source yet: nothing is counted, the caller records the first.
  EXPECT_FALSE(audit_->count_refusal("10.0.0.7", "calls refused at capacity"));
  storage::audit_entry e{
      0, 0, "-", "10.0.0.7", "POST /v1/requests", "/v1/requests", "failed", "429 overloaded"};
  audit_->record_refusal(e, "calls refused at capacity");
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(audit_->count_refusal("10.0.0.7", "calls refused at capacity"));
  // Another kind from the same source has a window of its own.
  EXPECT_FALSE(audit_->count_refusal("10.0.0.7", "failed authentications"));
  auto entries = trail();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].action, "POST /v1/requests");
  EXPECT_EQ(entries[1].detail, "3 more calls refused at capacity from 10.0.0.7 in 0 s");
}

TEST_F(ApiNoise, ARefusalAfterTheAuditWindowClosedOpensANewOne) {
  for (int i = 0; i < 5; ++i) status("10.0.0.1", "Bearer guess");
  clock_->advance(2000);
  status("10.0.0.1", "Bearer guess");
  clock_->advance(60000);
  status("10.0.0.1", "Bearer guess");
  auto entries = trail();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].detail, "5 more failed authentications from 10.0.0.1 in 2 s");
  EXPECT_EQ(entries[2].action, "GET /v1/requests") << "the first of a new window, as is";
}

TEST_F(ApiNoise, HugeOrMalformedFieldsAreCutToTheirBoundInTheTrail) {
  std::string name(100000, 'a');
  name += "\xff\n";
  auto r = call("GET", "/v1/hosts/" + name, "10.0.0.1", {{"authorization", good_token}});
  EXPECT_EQ(r.status, 404);
  auto entries = trail();
  ASSERT_EQ(entries.size(), 1u);
  const auto& target = entries[0].target;
  EXPECT_LE(target.size(), storage::audit_text_limit);
  EXPECT_EQ(target.rfind("/v1/hosts/aaaa", 0), 0u);
  EXPECT_EQ(target.substr(target.size() - std::string{storage::truncation_marker}.size()),
            storage::truncation_marker);
}

// Forwarded calls: a trusted router's X-Forwarded-For names the client, anyone else's is ignored.

TEST_F(ApiNoise, ATrustedRoutersClientIsLimitedAloneAndTheRouterStaysOpenForOthers) {
  auto via_router = [&](const std::string& client, const std::string& authorization) {
    return call("GET", "/v1/requests", "10.9.0.1",
                {{"authorization", authorization}, {"x-forwarded-for", client}})
        .status;
  };
  for (int i = 0; i < 10; ++i) EXPECT_EQ(via_router("192.0.2.7", "Bearer guess"), 401) << i;
  EXPECT_EQ(via_router("192.0.2.7", good_token), 429) << "the guessing client is limited";
  EXPECT_EQ(via_router("192.0.2.8", good_token), 200) << "another client of the same router";
  EXPECT_EQ(via_router("192.0.2.8", "Bearer guess"), 401) << "counted apart";
  // The trail names the clients, not the router.
  bool client_audited = false;
  for (const auto& e : trail()) {
    EXPECT_NE(e.source, "10.9.0.1") << e.action << " " << e.detail;
    if (e.source == "192.0.2.7") client_audited = true;
  }
  EXPECT_TRUE(client_audited);
  EXPECT_EQ(status("10.9.0.1", good_token), 200) << "the router's own calls are not limited";
}

TEST_F(ApiNoise, AnUntrustedPeersForwardedForIsIgnored) {
  // A client that rotates the header it sends is still one source: its own address.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(call("GET", "/v1/requests", "10.0.0.1",
                   {{"authorization", "Bearer guess"},
                    {"x-forwarded-for", "192.0.2." + std::to_string(i)}})
                  .status,
              401)
        << i;
  EXPECT_EQ(call("GET", "/v1/requests", "10.0.0.1",
                 {{"authorization", good_token}, {"x-forwarded-for", "192.0.2.200"}})
                .status,
            429);
  for (const auto& e : trail()) EXPECT_EQ(e.source, "10.0.0.1");
}

}  // namespace ab::testing
