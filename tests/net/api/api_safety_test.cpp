// The limits on destructive calls over real HTTP: confirmations of bulk calls, quotas per call
// and per hour (counted in the site database), and dry runs that answer host by host and write
// nothing — every table's rows are compared before and after.

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "net/api/safety_resource.hpp"
#include "tests/fakes/scratch_dir.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

namespace {

const std::string bearer_ops = "Authorization: Bearer ops-token\r\n";
const std::string bearer_admin = "Authorization: Bearer admin-token\r\n";
const std::string bearer_viewer = "Authorization: Bearer viewer-token\r\n";
const std::string bearer_keeper = "Authorization: Bearer keeper-token\r\n";

std::string policy_text() {
  return R"({
    "accounts": {
      "ops": {"token_sha256": ")" +
         auth::sha256_hex("ops-token") + R"(", "roles": ["operator"]},
      "admin": {"token_sha256": ")" +
         auth::sha256_hex("admin-token") + R"(", "roles": ["admin"]},
      "viewer": {"token_sha256": ")" +
         auth::sha256_hex("viewer-token") + R"(", "roles": ["viewer"]},
      "keeper": {"token_sha256": ")" +
         auth::sha256_hex("keeper-token") + R"(", "roles": ["keeper"]}
    },
    "roles": {
      "operator": [{"actions": ["reimage", "wipe", "power_on", "read", "hosts.write"]}],
      "admin": [{"actions": ["*"]}],
      "viewer": [{"actions": ["read", "hold.read", "pause.read"]}],
      "keeper": [{"actions": ["read", "hold.read", "hold.write", "pause.read", "pause.write"],
                  "sites": ["dc2"]}]
    },
    "quotas": {"operator": {"hosts_per_call": 5, "hosts_per_hour": 8}},
    "confirm_above": 3
  })";
}

/// Every row of every table of the SQLite database at `url` (`sqlite:PATH`), as text.
std::string every_row(const std::string& url) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(url.substr(7).c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::vector<std::string> tables;
  std::string out;
  auto each = [&](const std::string& sql, const std::function<void(sqlite3_stmt*)>& fn) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(st) == SQLITE_ROW) fn(st);
    sqlite3_finalize(st);
  };
  each("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", [&](sqlite3_stmt* st) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  });
  for (const auto& t : tables) {
    out += "table " + t + "\n";
    each("SELECT * FROM " + t + " ORDER BY 1", [&](sqlite3_stmt* st) {
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* v = sqlite3_column_text(st, i);
        out += (v ? reinterpret_cast<const char*>(v) : "NULL") + std::string{"|"};
      }
      out += "\n";
    });
  }
  sqlite3_close(db);
  EXPECT_GT(tables.size(), 10u);
  return out;
}

class ApiSafety : public Api {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("ab-api-safety-");
    auto o = policy_options(dir_, policy_text());
    auto a = auth::authenticator::open(std::move(o));
    ASSERT_TRUE(a) << message_of(a.error());
    auth_ = std::move(*a);
    start_with_waves([this](net::api_options& opts) {
      opts.auth = auth_;
      audit_ = std::make_shared<net::audit_trail>(
          std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}),
          std::chrono::milliseconds{10});
      opts.audit = audit_;
      opts.cluster_of = [](const std::string& action) {
        return action == "reimage" ? std::optional<std::string>{"build"} : std::nullopt;
      };
      opts.probe_host = [](const storage::host_record& h) {
        bool down = h.name.find("down") != std::string::npos;
        return std::vector<net::preflight_check>{
            {"credentials", true, "present"},
            {"bmc_reachable", !down, down ? "no answer within 2 s" : "answered"}};
      };
    });
  }
  /// As `Api::start`, with the waves and safety (holds, pauses) resources too.
  void start_with_waves(const std::function<void(net::api_options&)>& tune) {
    db_ = std::make_unique<scratch_store>("sqlite", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    net::api_options opts;
    opts.rules = std::make_shared<const lifecycle::rules>(lifecycle::rules_options{false, {}});
    opts.store_actors = 2;
    tune(opts);
    auto store = std::shared_ptr<storage::store>(&**db_, [](storage::store*) {});
    auto resources = net::spawn_api_resources(*sys_, store, opts);
    resources.waves = net::spawn_wave_resource(*sys_, store, {opts.rules, opts.auth});
    resources.safety = net::spawn_safety_resource(*sys_, store, {"dc1", opts.auth});
    api_ = std::make_unique<net::api_service>(*sys_, std::move(resources), opts);
    net::server_options so;
    so.port = 0;
    so.threads = 2;
    auto srv = net::http_server::start(so, [this](net::http_request&& r, net::responder respond) {
      api_->handle(std::move(r), std::move(respond));
    });
    ASSERT_TRUE(srv);
    server_ = std::move(*srv);
  }
  void TearDown() override {
    if (server_) server_->stop();
    api_.reset();
    audit_.reset();
    Api::TearDown();
    std::filesystem::remove_all(dir_);
  }

  /// A submission body of `action` on hosts h1..hN, with extra fields.
  static std::string body(const std::string& action, int n, const json& extra = json::object()) {
    json hosts = json::array();
    for (int i = 1; i <= n; ++i) hosts.push_back("h" + std::to_string(i));
    json b{{"action", action}, {"hosts", hosts}};
    b.update(extra);
    return b.dump();
  }

  void register_n(int n) {
    json hosts = json::array();
    for (int i = 1; i <= n; ++i)
      hosts.push_back({{"name", "h" + std::to_string(i)},
                       {"site", "dc1"},
                       {"bmc_endpoint", "https://bmc-h" + std::to_string(i)},
                       {"credential_ref", "file:bmc"}});
    ASSERT_EQ(call("POST", "/v1/hosts", json{{"hosts", hosts}}.dump(), bearer_admin).status, 201);
  }

  std::filesystem::path dir_;
  std::shared_ptr<auth::authenticator> auth_;
  std::shared_ptr<net::audit_trail> audit_;
};

TEST_F(ApiSafety, ABulkDestructiveCallMustConfirmItsHostCount) {
  register_n(4);
  auto a = call("POST", "/v1/requests", body("reimage", 4), bearer_admin);
  EXPECT_EQ(a.status, 422) << a.body;
  auto err = json::parse(a.body)["error"];
  EXPECT_EQ(err["code"], "confirmation_required");
  EXPECT_NE(err["message"].get<std::string>().find("\"confirm_hosts\": 4"), std::string::npos);
  auto wrong =
      call("POST", "/v1/requests", body("reimage", 4, {{"confirm_hosts", 40}}), bearer_admin);
  EXPECT_EQ(wrong.status, 422);
  EXPECT_TRUE(db_->operator->()->requests({})->items.empty());
  auto ok = call("POST", "/v1/requests", body("reimage", 4, {{"confirm_hosts", 4}}), bearer_admin);
  EXPECT_EQ(ok.status, 202) << ok.body;
  // Not destructive: no confirmation asked (the hosts are busy, which the outcomes say).
  EXPECT_EQ(call("POST", "/v1/requests", body("power_on", 4), bearer_admin).status, 202);
}

TEST_F(ApiSafety, APartOfASplitCallIsConfirmedAndCappedAsTheWholeCall) {
  register_n(4);
  // ab-router's part of 2 hosts of a call on 6: confirmed by the whole call's count, not by
  // the part's (the threshold is 3: the part alone would need none).
  auto part = [](int whole, const json& extra = json::object()) {
    json e{{"whole_call_hosts", whole}};
    e.update(extra);
    return body("reimage", 2, e);
  };
  auto unconfirmed = call("POST", "/v1/requests", part(6), bearer_admin);
  EXPECT_EQ(unconfirmed.status, 422) << unconfirmed.body;
  EXPECT_NE(json::parse(unconfirmed.body)["error"]["message"].get<std::string>().find(
                "\"confirm_hosts\": 6"),
            std::string::npos)
      << unconfirmed.body;
  auto the_parts_count =
      call("POST", "/v1/requests", part(6, {{"confirm_hosts", 2}}), bearer_admin);
  EXPECT_EQ(the_parts_count.status, 422) << the_parts_count.body;
  EXPECT_EQ(json::parse(the_parts_count.body)["error"]["code"], "confirmation_required");
  // Fewer than the body names is not a whole call it belongs to.
  auto smaller =
      call("POST", "/v1/requests", body("reimage", 4, {{"whole_call_hosts", 2}}), bearer_admin);
  EXPECT_EQ(smaller.status, 400) << smaller.body;
  // The per-call cap of the operator (5) is the whole call's too.
  auto capped = call("POST", "/v1/requests", part(6, {{"confirm_hosts", 6}}), bearer_ops);
  EXPECT_EQ(capped.status, 403) << capped.body;
  EXPECT_NE(capped.body.find("reimage of 6 hosts"), std::string::npos) << capped.body;
  // A dry run says the same.
  auto dry = call("POST", "/v1/requests", part(6, {{"dry_run", true}}), bearer_admin);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(json::parse(dry.body)["accepted"], false) << dry.body;
  EXPECT_TRUE(db_->operator->()->requests({})->items.empty());
  auto ok = call("POST", "/v1/requests", part(6, {{"confirm_hosts", 6}}), bearer_admin);
  EXPECT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(db_->operator->()->requests({})->items.size(), 2u);
}

TEST_F(ApiSafety, QuotasRefuseWithTheReasonAndHoldInTheSiteDatabase) {
  register_n(8);
  auto big = call("POST", "/v1/requests", body("wipe", 6, {{"confirm_hosts", 6}}), bearer_ops);
  EXPECT_EQ(big.status, 403) << big.body;
  EXPECT_EQ(json::parse(big.body)["error"]["code"], "quota_exceeded");
  EXPECT_NE(big.body.find("at most 5 hosts per call"), std::string::npos) << big.body;
  EXPECT_EQ(call("POST", "/v1/requests", body("reimage", 3), bearer_ops).status, 202);
  // The hour's quota is in the database: another store on it sees the 3 hosts.
  auto other = db_->reopen();
  ASSERT_TRUE(other);
  EXPECT_EQ(*(*other)->quota_used("ops"), 3);
  // 3 + 6 does not fit in 8; 3 + 5 does.
  json five{{"action", "reimage"}, {"hosts", {"h4", "h5", "h6", "h7", "h8"}}, {"confirm_hosts", 5}};
  auto over = call("POST", "/v1/requests",
                   json{{"action", "reimage"},
                        {"hosts", {"h4", "h5", "h6", "h7", "h8", "h2"}},
                        {"confirm_hosts", 6}}
                       .dump(),
                   bearer_ops);
  EXPECT_EQ(over.status, 403);
  auto fits = call("POST", "/v1/requests", five.dump(), bearer_ops);
  EXPECT_EQ(fits.status, 202) << fits.body;
  auto full = call("POST", "/v1/requests", json{{"action", "power_off"}, {"host", "h1"}}.dump(),
                   bearer_admin);
  EXPECT_NE(full.status, 403);  // admin has no quota
  json h9{{"name", "h9"},
          {"site", "dc1"},
          {"bmc_endpoint", "https://bmc-h9"},
          {"credential_ref", "file:bmc"}};
  ASSERT_EQ(call("POST", "/v1/hosts", h9.dump(), bearer_admin).status, 201);
  auto last =
      call("POST", "/v1/requests", json{{"action", "wipe"}, {"host", "h9"}}.dump(), bearer_ops);
  EXPECT_EQ(last.status, 403) << last.body;
  EXPECT_NE(last.body.find("acted on 8 hosts in the last hour"), std::string::npos) << last.body;
  // Not destructive: no quota.
  EXPECT_NE(
      call("POST", "/v1/requests", json{{"action", "power_on"}, {"host", "h9"}}.dump(), bearer_ops)
          .status,
      403);
}

TEST_F(ApiSafety, ADryRunAnswersHostByHostAndWritesNothing) {
  register_n(3);
  json down{{"name", "h-down"},
            {"site", "dc1"},
            {"bmc_endpoint", "https://bmc-down"},
            {"credential_ref", "file:bmc"}};
  ASSERT_EQ(call("POST", "/v1/hosts", down.dump(), bearer_admin).status, 201);
  ASSERT_EQ(call("POST", "/v1/requests", json{{"action", "power_on"}, {"host", "h3"}}.dump(),
                 bearer_admin)
                .status,
            202);
  audit_->flush();
  auto before = every_row(db_->url());
  json dry{
      {"action", "reimage"}, {"hosts", {"h1", "h2", "h3", "h-down", "ghost"}}, {"dry_run", true}};
  auto a = call("POST", "/v1/requests", dry.dump(), bearer_ops);
  ASSERT_EQ(a.status, 200) << a.body;
  auto r = json::parse(a.body);
  EXPECT_EQ(r["dry_run"], true);
  EXPECT_EQ(r["accepted"], false);
  // The call: 5 hosts over the threshold of 3 without confirm_hosts; 5 within the call cap.
  std::map<std::string, bool> call_checks;
  for (const auto& c : r["checks"]) call_checks[c["check"]] = c["ok"];
  EXPECT_FALSE(call_checks["confirmation"]);
  EXPECT_TRUE(call_checks["quota_per_call"]);
  EXPECT_TRUE(call_checks["quota_per_hour"]);
  ASSERT_EQ(r["hosts"].size(), 5u);
  auto failed = [&](int i) {
    std::set<std::string> out;
    for (const auto& f : r["hosts"][i]["failed"]) out.insert(f.get<std::string>());
    return out;
  };
  EXPECT_TRUE(failed(0).empty()) << r["hosts"][0].dump();
  EXPECT_EQ(r["hosts"][0]["chain"].size(), 5u);
  EXPECT_EQ(r["hosts"][0]["chain"][0], "power_off");
  EXPECT_TRUE(r["hosts"][0]["estimated_end_ms"].get<std::int64_t>() >
              r["hosts"][0]["estimated_start_ms"].get<std::int64_t>());
  EXPECT_EQ(failed(2), std::set<std::string>{"busy"});
  EXPECT_EQ(failed(3), std::set<std::string>{"bmc_reachable"});
  EXPECT_EQ(failed(4), std::set<std::string>{"inventory"});
  auto after = every_row(db_->url());
  audit_->flush();
  EXPECT_EQ(before, every_row(db_->url()));
  EXPECT_EQ(before, after);
  // Confirmed and within quota, the healthy hosts would be accepted.
  json ok{{"action", "reimage"}, {"hosts", {"h1", "h2"}}, {"dry_run", true}};
  auto b = json::parse(call("POST", "/v1/requests", ok.dump(), bearer_ops).body);
  EXPECT_EQ(b["accepted"], true) << b.dump();
  audit_->flush();
  EXPECT_EQ(before, every_row(db_->url()));
}

TEST_F(ApiSafety, ADryRunShowsAPauseOfTheClusterThatWouldRunTheWork) {
  register_n(1);
  auto pause = [&](const std::string& cluster) {
    json p{{"scope", "cluster"}, {"target", cluster}, {"reason", "rack move"}};
    ASSERT_EQ(call("POST", "/v1/pauses", p.dump(), bearer_admin).status, 201);
  };
  auto pause_check = [&](const std::string& action) {
    json dry{{"action", action}, {"hosts", {"h1"}}, {"dry_run", true}};
    auto a = call("POST", "/v1/requests", dry.dump(), bearer_admin);
    EXPECT_EQ(a.status, 200) << a.body;
    auto r = json::parse(a.body);
    for (const auto& c : r["hosts"][0]["checks"])
      if (c["check"] == "pause") return std::pair{c, r["hosts"][0]};
    ADD_FAILURE() << "no pause check: " << a.body;
    return std::pair{json{}, json{}};
  };
  // A pause of a cluster that does not run reimages does not hold them back.
  pause("discover");
  auto [other, h0] = pause_check("reimage");
  EXPECT_EQ(other["ok"], true) << other.dump();
  EXPECT_TRUE(h0["estimated_start_ms"].is_number()) << h0.dump();
  // A pause of the cluster that runs them does: the work would wait, not be refused.
  pause("build");
  auto [held, h1] = pause_check("reimage");
  EXPECT_EQ(held["ok"], false) << held.dump();
  EXPECT_EQ(held["effect"], "wait");
  EXPECT_NE(held["reason"].get<std::string>().find("cluster build is paused"), std::string::npos)
      << held.dump();
  EXPECT_EQ(h1["accepted"], true) << h1.dump();
  EXPECT_TRUE(h1["estimated_start_ms"].is_null()) << h1.dump();
  // An action no cluster is known to run: cluster pauses cannot be matched, none is shown.
  auto [unknown, h2] = pause_check("power_on");
  EXPECT_EQ(unknown["ok"], true) << unknown.dump();
}

TEST_F(ApiSafety, HoldsAndPausesNeedTheirGrants) {
  register_n(1);
  json hold{{"host", "h1"}, {"reason", "disk swap"}};
  json pause{{"scope", "action"}, {"target", "wipe"}, {"reason", "bad image"}};
  // Without a grant naming them: 403, and nothing placed.
  EXPECT_EQ(call("POST", "/v1/holds", hold.dump(), bearer_ops).status, 403);
  EXPECT_EQ(call("POST", "/v1/pauses", pause.dump(), bearer_ops).status, 403);
  // Reading is not writing.
  EXPECT_EQ(call("POST", "/v1/holds", hold.dump(), bearer_viewer).status, 403);
  EXPECT_EQ(call("POST", "/v1/pauses", pause.dump(), bearer_viewer).status, 403);
  auto holds = call("GET", "/v1/holds", "", bearer_viewer);
  ASSERT_EQ(holds.status, 200) << holds.body;
  EXPECT_TRUE(json::parse(holds.body)["holds"].empty());
  auto pauses = call("GET", "/v1/pauses", "", bearer_viewer);
  ASSERT_EQ(pauses.status, 200) << pauses.body;
  EXPECT_TRUE(json::parse(pauses.body)["pauses"].empty());
  // A grant on another site does not reach h1 (dc1): to it, the host does not exist; and a
  // pause of this node's site (dc1) is outside it too.
  EXPECT_EQ(call("POST", "/v1/holds", hold.dump(), bearer_keeper).status, 404);
  // Placed by someone allowed, the hold is not liftable by those who may only read it.
  ASSERT_EQ(call("POST", "/v1/holds", hold.dump(), bearer_admin).status, 201);
  EXPECT_EQ(call("DELETE", "/v1/holds/h1", "", bearer_viewer).status, 403);
  EXPECT_EQ(call("DELETE", "/v1/holds/h1", "", bearer_ops).status, 403);
  EXPECT_EQ(call("GET", "/v1/holds/h1", "", bearer_keeper).status, 404);
  ASSERT_EQ(call("POST", "/v1/pauses", pause.dump(), bearer_admin).status, 201);
  EXPECT_EQ(call("DELETE", "/v1/pauses/action/wipe", "", bearer_viewer).status, 403);
  // Both still stand. Lists show a caller only what its read grants reach.
  EXPECT_EQ(call("GET", "/v1/holds/h1", "", bearer_viewer).status, 200);
  EXPECT_EQ(json::parse(call("GET", "/v1/holds", "", bearer_viewer).body)["holds"].size(), 1u);
  EXPECT_EQ(json::parse(call("GET", "/v1/pauses", "", bearer_viewer).body)["pauses"].size(), 1u);
  // ops sees h1 (its read grant reaches it) but may not read its hold.
  EXPECT_EQ(call("GET", "/v1/holds/h1", "", bearer_ops).status, 403);
  auto ops_holds = call("GET", "/v1/holds", "", bearer_ops);
  EXPECT_EQ(ops_holds.status == 403 || json::parse(ops_holds.body)["holds"].empty(), true)
      << ops_holds.body;
  auto ops_pauses = call("GET", "/v1/pauses", "", bearer_ops);
  EXPECT_EQ(ops_pauses.status == 403 || json::parse(ops_pauses.body)["pauses"].empty(), true)
      << ops_pauses.body;
}

TEST_F(ApiSafety, ADryRunShowsTheHourlyQuotaItWouldPass) {
  register_n(8);
  ASSERT_EQ(call("POST", "/v1/requests", body("reimage", 3), bearer_ops).status, 202);
  auto a = json::parse(call("POST", "/v1/requests",
                            json{{"action", "wipe"},
                                 {"hosts", {"h4", "h5", "h6", "h7", "h8", "h1"}},
                                 {"confirm_hosts", 6},
                                 {"dry_run", true}}
                                .dump(),
                            bearer_ops)
                           .body);
  std::map<std::string, json> checks;
  for (const auto& c : a["checks"]) checks[c["check"]] = c;
  EXPECT_FALSE(checks["quota_per_call"]["ok"].get<bool>());
  EXPECT_FALSE(checks["quota_per_hour"]["ok"].get<bool>());
  EXPECT_NE(checks["quota_per_hour"]["reason"].get<std::string>().find("used 3 of 8"),
            std::string::npos);
  EXPECT_EQ(a["accepted"], false);
}

TEST_F(ApiSafety, AWavePlanIsConfirmedStoredShownAndStopped) {
  register_n(6);
  json plan{{"action", "reimage"},
            {"hosts", {"h1", "h2", "h3", "h4", "h5", "h6"}},
            {"max_unavailable", 2},
            {"pause_s", 30},
            {"failure_threshold_pct", 20}};
  // Six hosts of a destructive action: above the threshold of 3, the count must be confirmed.
  auto refused = call("POST", "/v1/waves", plan.dump(), bearer_admin);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "confirmation_required");
  // The operator's cap of 5 hosts per call holds for a plan too.
  plan["confirm_hosts"] = 6;
  EXPECT_EQ(call("POST", "/v1/waves", plan.dump(), bearer_ops).status, 403);
  // A dry run plans and stores nothing.
  plan["dry_run"] = true;
  auto dry = call("POST", "/v1/waves", plan.dump(), bearer_admin);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(json::parse(dry.body)["waves_total"], 3);
  EXPECT_TRUE(db_->operator->()->waves({})->empty());
  plan.erase("dry_run");
  auto made = call("POST", "/v1/waves", plan.dump(), bearer_admin);
  ASSERT_EQ(made.status, 201) << made.body;
  auto w = json::parse(made.body);
  EXPECT_EQ(w["state"], "running");
  EXPECT_EQ(w["waves_total"], 3);  // no rack facts: one group, 2 hosts per wave
  EXPECT_EQ(w["hosts"].size(), 6u);
  EXPECT_EQ(w["waves"][0]["pending"], 2);
  auto id = std::to_string(w["id"].get<std::int64_t>());
  auto shown = json::parse(call("GET", "/v1/waves/" + id, "", bearer_ops).body);
  EXPECT_EQ(shown["hosts"][0]["state"], "pending");
  auto list = json::parse(call("GET", "/v1/waves?state=running", "", bearer_ops).body);
  ASSERT_EQ(list["waves"].size(), 1u);
  EXPECT_FALSE(list["waves"][0].contains("hosts"));
  // The operator has no cancel grant; the admin stops it, once.
  EXPECT_EQ(call("POST", "/v1/waves/" + id + "/stop", "", bearer_ops).status, 403);
  auto stopped = call("POST", "/v1/waves/" + id + "/stop", "", bearer_admin);
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(json::parse(stopped.body)["state"], "stopped");
  EXPECT_EQ(call("POST", "/v1/waves/" + id + "/stop", "", bearer_admin).status, 409);
  EXPECT_EQ(call("GET", "/v1/waves/999", "", bearer_admin).status, 404);
}

TEST_F(ApiSafety, AWavePlanRefusesBadPlansBeforeStoringAnything) {
  register_n(2);
  auto post = [&](const json& b) { return call("POST", "/v1/waves", b.dump(), bearer_admin); };
  EXPECT_EQ(post({{"action", "reimage"}, {"hosts", {"h1", "h1"}}}).status, 400);
  EXPECT_EQ(post({{"action", "reimage"}, {"hosts", {"h1", "ghost"}}}).status, 422);
  EXPECT_EQ(post({{"action", "reimage"}, {"hosts", {"h1"}}, {"max_unavailable", 0}}).status, 400);
  EXPECT_EQ(post({{"action", "reimage"}, {"hosts", {"h1"}}, {"group_by", "row"}}).status, 400);
  EXPECT_EQ(post({{"action", "reimage"}, {"hosts", {"h1"}}, {"surprise", 1}}).status, 400);
  EXPECT_TRUE(db_->operator->()->waves({})->empty());
}

}  // namespace
}  // namespace ab::testing
