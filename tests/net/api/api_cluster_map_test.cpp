// The cluster map resource: the typed actor (a typed call in, a typed reply or error out) and
// its routes over real HTTP: reading, replacing with if_version, moving a node, bad input
// refused with nothing changed, and the cluster.read / cluster.write grants.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <caf/scoped_actor.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "tests/net/api/api_fixture.hpp"

namespace ab::testing {

namespace {

const std::string bearer_ops = "Authorization: Bearer ops-token\r\n";
const std::string bearer_viewer = "Authorization: Bearer viewer-token\r\n";
const std::string bearer_far = "Authorization: Bearer far-token\r\n";

const char* two_clusters = R"({"clusters": {"build": {"actions": ["reimage"]},
    "others": {"actions": ["*"]}}, "default_cluster": "others"})";

std::string put_body(const std::string& map, std::int64_t if_version) {
  return R"({"map": )" + map + R"(, "if_version": )" + std::to_string(if_version) + "}";
}

class ApiClusterMap : public Api {
 protected:
  /// Serves the API with the cluster map resource of site dc1; with a policy when `guarded`.
  void serve(bool guarded) {
    db_ = std::make_unique<scratch_store>("sqlite", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    net::api_options opts;
    opts.rules = std::make_shared<const lifecycle::rules>(lifecycle::rules_options{false, {}});
    opts.store_actors = 1;
    if (guarded) {
      dir_ = std::filesystem::temp_directory_path() /
             ("ab-api-cluster-map-" + std::to_string(::getpid()));
      std::filesystem::create_directories(dir_);
      std::ofstream(dir_ / "policy.json") << R"({
        "accounts": {
          "ops": {"token_sha256": ")" + auth::sha256_hex("ops-token") +
                                                 R"(", "roles": ["mapper"]},
          "viewer": {"token_sha256": ")" + auth::sha256_hex("viewer-token") +
                                                 R"(", "roles": ["viewer"]},
          "far": {"token_sha256": ")" + auth::sha256_hex("far-token") +
                                                 R"(", "roles": ["far"]}
        },
        "roles": {
          "mapper": [{"actions": ["cluster.read", "cluster.write"], "sites": ["dc1"]}],
          "viewer": [{"actions": ["cluster.read", "read"]}],
          "far": [{"actions": ["cluster.read", "cluster.write"], "sites": ["dc2"]}]
        }
      })";
      auth::authenticator_options o;
      o.policy_file = (dir_ / "policy.json").string();
      o.words.classes = {"maas", "user", "organic"};
      o.watch_interval = {};
      auto a = auth::authenticator::open(std::move(o));
      ASSERT_TRUE(a) << message_of(a.error());
      opts.auth = std::move(*a);
    }
    std::shared_ptr<storage::store> store(&**db_, [](storage::store*) {});
    auto resources = net::spawn_api_resources(*sys_, store, opts);
    resources.cluster_map = net::spawn_cluster_map_resource(*sys_, store, {"dc1", opts.auth});
    maps_ = resources.cluster_map;
    api_ = std::make_unique<net::api_service>(*sys_, std::move(resources), opts);
    net::server_options so;
    so.port = 0;
    so.threads = 2;
    auto s = net::http_server::start(so, [this](net::http_request&& r, net::responder respond) {
      api_->handle(std::move(r), std::move(respond));
    });
    ASSERT_TRUE(s);
    server_ = std::move(*s);
  }
  void TearDown() override {
    // The handle must go before the actor system it belongs to.
    maps_ = nullptr;
    Api::TearDown();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  /// The map as GET answers it.
  json document(const std::string& headers = "") {
    auto r = call("GET", "/v1/cluster-map", "", headers);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json{};
  }

  /// Sends `msg` to the resource and waits: the typed reply, or the error.
  template <class Message>
  std::pair<std::optional<net::cluster_map_reply>, caf::error> ask(Message msg) {
    std::pair<std::optional<net::cluster_map_reply>, caf::error> out;
    caf::scoped_actor self{*sys_};
    self->request(maps_, std::chrono::seconds(10), std::move(msg))
        .receive([&](net::cluster_map_reply& r) { out.first = std::move(r); },
                 [&](caf::error& e) { out.second = std::move(e); });
    return out;
  }

  std::filesystem::path dir_;
  net::cluster_map_actor maps_;
};

std::string code_of(const http_answer& r) {
  auto j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

}  // namespace

TEST_F(ApiClusterMap, TheResourceTakesTypedCallsAndAnswersTypedRepliesOrErrors) {
  serve(false);
  auth::identity who{"anonymous", "none", {}, false};
  auto empty = ask(net::get_cluster_map_call{who});
  ASSERT_TRUE(empty.first) << message_of(empty.second);
  EXPECT_EQ(empty.first->map.version, 0);
  EXPECT_EQ(empty.first->map.map, config::cluster_map::defaults());

  auto map = config::parse_cluster_map(two_clusters, "m");
  ASSERT_TRUE(map);
  auto put = ask(net::put_cluster_map_call{who, "10.1.1.1", *map, 0});
  ASSERT_TRUE(put.first) << message_of(put.second);
  EXPECT_EQ(put.first->map.version, 1);
  auto stale = ask(net::put_cluster_map_call{who, "10.1.1.1", *map, 0});
  EXPECT_FALSE(stale.first);
  EXPECT_TRUE(is(stale.second, errc::conflict)) << message_of(stale.second);

  auto moved = ask(net::move_node_call{who, "", "n1", "build"});
  ASSERT_TRUE(moved.first) << message_of(moved.second);
  EXPECT_EQ(moved.first->map.map.cluster_of("n1"), "build");
  auto unknown = ask(net::move_node_call{who, "", "n1", "nope"});
  EXPECT_FALSE(unknown.first);
  EXPECT_EQ(net::to_api_error(unknown.second).status, 422);
  EXPECT_EQ(net::to_api_error(unknown.second).code, "unknown_cluster");
}

TEST_F(ApiClusterMap, ANewSiteHasVersionZeroWithTheBuiltInMap) {
  serve(false);
  auto d = document();
  EXPECT_EQ(d["version"], 0);
  EXPECT_EQ(d["map"], json::parse(R"({"clusters": {"all": {"actions": ["*"]}},
                                     "default_cluster": "all"})"));
  EXPECT_EQ(d["changed_at_ms"], 0);
  EXPECT_EQ(d["changed_by"], "");
}

TEST_F(ApiClusterMap, APutStoresTheMapAndAStaleIfVersionIs409WithNothingLost) {
  serve(false);
  auto r = call("PUT", "/v1/cluster-map", put_body(two_clusters, 0));
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json::parse(r.body);
  EXPECT_EQ(d["version"], 1);
  EXPECT_EQ(d["map"], json::parse(two_clusters));
  EXPECT_EQ(d["changed_by"], "anonymous");
  EXPECT_GT(d["changed_at_ms"].get<std::int64_t>(), 0);
  EXPECT_EQ(document(), d);

  auto stale =
      call("PUT", "/v1/cluster-map", put_body(R"({"clusters": {"all": {"actions": ["*"]}}})", 0));
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(code_of(stale), "conflict");
  EXPECT_EQ(document(), d) << "the refused change changed nothing";
}

TEST_F(ApiClusterMap, AMoveTakesANodeThatNeedNotBeLiveAndAnUnknownClusterIs422) {
  serve(false);
  ASSERT_EQ(call("PUT", "/v1/cluster-map", put_body(two_clusters, 0)).status, 200);
  auto r = call("POST", "/v1/cluster-map/moves", R"({"node": "n1", "cluster": "build"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json::parse(r.body);
  EXPECT_EQ(d["version"], 2);
  EXPECT_EQ(d["map"]["nodes"]["n1"], "build");
  auto unknown = call("POST", "/v1/cluster-map/moves", R"({"node": "n1", "cluster": "nope"})");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(code_of(unknown), "unknown_cluster");
  EXPECT_EQ(document(), d);
}

TEST_F(ApiClusterMap, BadBodiesAreRefusedWithTheErrorBodyAndChangeNothing) {
  serve(false);
  ASSERT_EQ(call("PUT", "/v1/cluster-map", put_body(two_clusters, 0)).status, 200);
  auto before = document();
  struct bad_case {
    const char* method;
    const char* path;
    std::string body;
    int status;
    const char* code;
  };
  const bad_case cases[] = {
      {"PUT", "/v1/cluster-map", "{", 400, "malformed_json"},
      {"PUT", "/v1/cluster-map", "[]", 400, "wrong_type"},
      {"PUT", "/v1/cluster-map", R"({"map": {}})", 400, "missing_field"},
      {"PUT", "/v1/cluster-map", put_body(two_clusters, 1) + " ", 200, ""},
      {"PUT", "/v1/cluster-map", R"({"map": {}, "if_version": 2, "force": true})", 400,
       "unknown_field"},
      {"PUT", "/v1/cluster-map", R"({"map": "x", "if_version": 2})", 400, "wrong_type"},
      {"PUT", "/v1/cluster-map", R"({"map": {}, "if_version": -1})", 400, "wrong_type"},
      {"PUT", "/v1/cluster-map", R"({"map": {}, "if_version": "2"})", 400, "wrong_type"},
      {"PUT", "/v1/cluster-map", put_body(R"({"clusters": {}})", 1), 422, "invalid_cluster_map"},
      {"PUT", "/v1/cluster-map",
       put_body(R"({"clusters": {"a": {"actions": ["x"]}}, "nodes": {"n1": "zzz"}})", 1), 422,
       "invalid_cluster_map"},
      {"PUT", "/v1/cluster-map", put_body(R"([[[[[[[[[[1]]]]]]]]]])", 1), 400, "too_deep"},
      {"POST", "/v1/cluster-map/moves", R"({"node": "n1"})", 400, "missing_field"},
      {"POST", "/v1/cluster-map/moves", R"({"node": "n 1", "cluster": "build"})", 400,
       "invalid_field"},
      {"POST", "/v1/cluster-map/moves", R"({"node": 1, "cluster": "build"})", 400, "wrong_type"},
      {"POST", "/v1/cluster-map/moves", R"({"node": "n1", "cluster": "build", "x": 1})", 400,
       "unknown_field"},
  };
  for (const auto& c : cases) {
    auto r = call(c.method, c.path, c.body);
    if (c.status == 200) {
      // The same map again (version 1): no change, no new version.
      EXPECT_EQ(r.status, 200) << r.body;
      continue;
    }
    EXPECT_EQ(r.status, c.status) << c.body << " → " << r.body;
    EXPECT_EQ(code_of(r), c.code) << r.body;
  }
  EXPECT_EQ(document(), before);
}

TEST_F(ApiClusterMap, ReadingNeedsClusterReadAndChangingClusterWriteOnTheNodesSite) {
  serve(true);
  EXPECT_EQ(call("GET", "/v1/cluster-map").status, 401);
  EXPECT_EQ(document(bearer_viewer)["version"], 0);
  auto viewer = call("PUT", "/v1/cluster-map", put_body(two_clusters, 0), bearer_viewer);
  EXPECT_EQ(viewer.status, 403) << viewer.body;
  auto far =
      call("POST", "/v1/cluster-map/moves", R"({"node": "n1", "cluster": "all"})", bearer_far);
  EXPECT_EQ(far.status, 403) << "a grant on dc2 does not reach dc1's map: " << far.body;
  EXPECT_EQ(document(bearer_ops)["version"], 0) << "nothing changed";
  auto ops = call("PUT", "/v1/cluster-map", put_body(two_clusters, 0), bearer_ops);
  ASSERT_EQ(ops.status, 200) << ops.body;
  EXPECT_EQ(json::parse(ops.body)["changed_by"], "ops");
  auto log = (*db_)->audit_log({});
  ASSERT_TRUE(log);
  ASSERT_FALSE(log->empty());
  EXPECT_EQ(log->front().action, "cluster.write");
  EXPECT_EQ(log->front().actor, "ops");
}

}  // namespace ab::testing
