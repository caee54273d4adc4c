// The API's resources as typed actors, without HTTP: a typed message in, a typed reply (or a
// caf::error) out, and each error as the one mapping in net/api/error turns it into HTTP.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "auth/token.hpp"
#include "core/error.hpp"
#include "lifecycle/lifecycle.hpp"
#include "lifecycle/rules.hpp"
#include "lifecycle/workflows.hpp"
#include "net/api/api.hpp"
#include "net/api/error.hpp"
#include "net/api/resources.hpp"
#include "tests/fakes/test_store.hpp"
#include "tests/fakes/wait.hpp"

namespace ab::testing {

namespace {

/// A reply or the error that came instead.
template <class Reply>
struct answer {
  std::optional<Reply> reply;
  caf::error error;
  /// The HTTP answer the error maps to.
  net::api_error http() const { return net::to_api_error(error); }
};

}  // namespace

class ApiResources : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<scratch_store>("sqlite", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
  }
  void TearDown() override {
    resources_.stop();
    sys_.reset();
    db_.reset();
  }

  /// Spawns the resources on the scratch store; `tune` may change the options first.
  void spawn(const std::function<void(net::api_options&)>& tune = {}) {
    net::api_options opts;
    // Without the lifecycle: any action on a new host.
    opts.rules = std::make_shared<const lifecycle::rules>(lifecycle::rules_options{false, {}});
    opts.store_actors = 2;
    if (tune) tune(opts);
    resources_ = net::spawn_api_resources(
        *sys_, std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}), opts);
  }

  /// Sends `msg` to `to` and waits for the reply.
  template <class Reply, class Handle, class Message>
  answer<Reply> ask(const Handle& to, Message msg) {
    answer<Reply> out;
    caf::scoped_actor self{*sys_};
    self->request(to, std::chrono::seconds(10), std::move(msg))
        .receive([&](Reply& r) { out.reply = std::move(r); },
                 [&](caf::error& e) { out.error = std::move(e); });
    return out;
  }

  void register_host(const std::string& name, const std::string& site = "dc1") {
    storage::host_record h;
    h.name = name;
    h.site = site;
    h.bmc_endpoint = "https://bmc-" + name;
    h.credential_ref = "file:/etc/ab/bmc";
    auto put = ask<net::put_hosts_reply>(resources_.hosts, net::put_hosts_call{anyone_, {h}});
    ASSERT_TRUE(put.reply) << message_of(put.error);
    EXPECT_EQ(put.reply->stored, 1u);
  }

  net::submit_call submission(const std::string& action, const std::string& host) {
    net::submit_call c;
    c.who = anyone_;
    c.cmd.action = action;
    c.cmd.hosts = {host};
    return c;
  }

  const auth::identity anyone_{"anonymous", "none", {}, true};
  std::unique_ptr<scratch_store> db_;
  caf::actor_system_config sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  net::api_resources resources_;
};

TEST_F(ApiResources, ASubmissionIsATypedMessageAndItsReplyTheStoredRequest) {
  spawn();
  register_host("h1");
  auto sub = ask<net::submit_reply>(resources_.requests, submission("reimage", "h1"));
  ASSERT_TRUE(sub.reply) << message_of(sub.error);
  ASSERT_EQ(sub.reply->outcomes.size(), 1u);
  auto id = sub.reply->outcomes[0].id;
  EXPECT_GT(id, 0);
  auto got = ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, id});
  ASSERT_TRUE(got.reply) << message_of(got.error);
  EXPECT_EQ(got.reply->view.host, "h1");
  EXPECT_EQ(got.reply->view.action, "reimage");
  EXPECT_EQ(got.reply->view.jobs.size(), lifecycle::chain_of("reimage").size());
  auto page =
      ask<net::request_page_reply>(resources_.requests, net::list_requests_call{anyone_, {}});
  ASSERT_TRUE(page.reply);
  EXPECT_EQ(page.reply->page.items.size(), 1u);
  auto cancelled = ask<net::cancel_reply>(resources_.requests, net::cancel_call{anyone_, id});
  ASSERT_TRUE(cancelled.reply) << message_of(cancelled.error);
  EXPECT_EQ(cancelled.reply->state, storage::request_state::cancelled);
  EXPECT_EQ(cancelled.reply->host, "h1");
}

TEST_F(ApiResources, RefusalsComeBackAsErrorsThatMapToTheirHttpAnswers) {
  spawn([](net::api_options& o) { o.rules = std::make_shared<const lifecycle::rules>(); });
  register_host("h1");
  auto ghost = ask<net::submit_reply>(resources_.requests, submission("power_on", "ghost"));
  EXPECT_FALSE(ghost.reply);
  EXPECT_EQ(ghost.http().status, 422);
  EXPECT_EQ(ghost.http().code, "unknown_host");
  // A new host may not be reimaged: the lifecycle refuses it.
  auto early = ask<net::submit_reply>(resources_.requests, submission("reimage", "h1"));
  EXPECT_EQ(early.http().status, 409);
  EXPECT_EQ(early.http().code, "invalid_state");
  ASSERT_TRUE(ask<net::submit_reply>(resources_.requests, submission("power_on", "h1")).reply);
  auto busy = ask<net::submit_reply>(resources_.requests, submission("power_on", "h1"));
  EXPECT_EQ(busy.http().status, 409);
  EXPECT_EQ(busy.http().code, "host_busy");
  auto missing =
      ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, 999999});
  EXPECT_EQ(missing.http().status, 404);
  EXPECT_EQ(missing.http().message, "request 999999 does not exist");
  auto token = ask<net::callback_reply>(
      resources_.callbacks, net::callback_call{1, auth::sha256_hex("guess"), {true, "{}"}});
  EXPECT_FALSE(token.reply);
  EXPECT_EQ(token.http().status, 401);
}

TEST_F(ApiResources, AHostIsReadChangedAndDeletedByMessages) {
  spawn([](net::api_options& o) {
    o.validate_host = [](const storage::host_record& h) -> std::optional<std::string> {
      if (h.bmc_endpoint.find("forbidden") != std::string::npos) return "endpoint not allowed";
      return std::nullopt;
    };
  });
  register_host("h1");
  net::host_changes move;
  move.site = "dc2";
  auto moved = ask<net::host_reply>(resources_.hosts, net::patch_host_call{anyone_, "h1", move});
  ASSERT_TRUE(moved.reply) << message_of(moved.error);
  EXPECT_EQ(moved.reply->host.site, "dc2");
  net::host_changes bad;
  bad.bmc_endpoint = "https://forbidden";
  auto refused = ask<net::host_reply>(resources_.hosts, net::patch_host_call{anyone_, "h1", bad});
  EXPECT_EQ(refused.http().status, 422);
  EXPECT_EQ(refused.http().code, "invalid_host");
  auto listed = ask<net::host_page_reply>(resources_.hosts, net::list_hosts_call{anyone_, {}});
  ASSERT_TRUE(listed.reply);
  ASSERT_EQ(listed.reply->hosts.size(), 1u);
  EXPECT_EQ(listed.reply->hosts[0].bmc_endpoint, "https://bmc-h1");
  auto gone = ask<net::host_deleted>(resources_.hosts, net::delete_host_call{anyone_, "h1"});
  ASSERT_TRUE(gone.reply) << message_of(gone.error);
  auto again = ask<net::host_reply>(resources_.hosts, net::get_host_call{anyone_, "h1"});
  EXPECT_EQ(again.http().status, 404);
  EXPECT_EQ(again.http().code, "not_found");
}

TEST_F(ApiResources, TheAuditTrailAndReadinessAnswerByMessage) {
  spawn();
  storage::audit_entry e;
  e.actor = "ci";
  e.action = "GET /v1/requests";
  e.decision = "accepted";
  ASSERT_TRUE((*db_)->audit(e));
  storage::audit_filter f;
  f.actor = "ci";
  auto trail = ask<net::audit_reply>(resources_.audit, net::audit_call{f});
  ASSERT_TRUE(trail.reply) << message_of(trail.error);
  ASSERT_EQ(trail.reply->entries.size(), 1u);
  EXPECT_EQ(trail.reply->entries[0].action, "GET /v1/requests");
  auto ready = ask<bool>(resources_.chores, net::ready_atom::value);
  ASSERT_TRUE(ready.reply);
  EXPECT_TRUE(*ready.reply);
  // An open API: every login is the anonymous caller.
  auto login = ask<net::login_reply>(resources_.chores, net::login_call{"Basic eDp5"});
  ASSERT_TRUE(login.reply);
  EXPECT_EQ(login.reply->who.name, "anonymous");
}

TEST_F(ApiResources, AStoppedPoolAnswersWithAnErrorNotSilence) {
  spawn();
  resources_.stop();
  auto late = ask<bool>(resources_.chores, net::ready_atom::value);
  EXPECT_FALSE(late.reply);
  EXPECT_TRUE(late.error);
}

TEST_F(ApiResources, AStoreActorThatDiedIsReplacedAndCounted) {
  auto restarts = std::make_shared<std::atomic<std::int64_t>>(0);
  std::atomic<bool> crash{true};
  spawn([&](net::api_options& o) {
    // One store actor: without a replacement the pool would have none left.
    o.store_actors = 1;
    o.store_restarts = restarts;
    o.waiting_for = [&crash](const storage::request_view&) -> std::optional<std::string> {
      if (crash.exchange(false)) throw std::runtime_error("a store actor breaks");
      return std::nullopt;
    };
  });
  register_host("h1");
  auto sub = ask<net::submit_reply>(resources_.requests, submission("power_on", "h1"));
  ASSERT_TRUE(sub.reply) << message_of(sub.error);
  auto id = sub.reply->outcomes[0].id;
  auto broke = ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, id});
  EXPECT_FALSE(broke.reply);
  EXPECT_TRUE(broke.error);
  // The replacement serves every resource again; a call that raced the replacement may be
  // answered with an error, never left unanswered.
  ASSERT_TRUE(wait_until([&] { return restarts->load() == 1; }));
  ASSERT_TRUE(wait_until([&] {
    return ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, id})
        .reply.has_value();
  }));
  auto got = ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, id});
  ASSERT_TRUE(got.reply) << message_of(got.error);
  EXPECT_EQ(got.reply->view.host, "h1");
  auto ready = ask<bool>(resources_.chores, net::ready_atom::value);
  ASSERT_TRUE(ready.reply);
  EXPECT_EQ(restarts->load(), 1);
}

TEST_F(ApiResources, ARedeemedCallbackTellsTheNodeWhichRequestWoke) {
  std::atomic<storage::request_id> woke{0};
  spawn(
      [&](net::api_options& o) { o.on_callback = [&woke](storage::request_id id) { woke = id; }; });
  register_host("h1");
  auto sub = ask<net::submit_reply>(resources_.requests, submission("power_on", "h1"));
  ASSERT_TRUE(sub.reply) << message_of(sub.error);
  auto id = sub.reply->outcomes[0].id;
  ASSERT_FALSE((*db_)->issue_callback({id, auth::sha256_hex("tok"), "install:" + std::to_string(id),
                                       (*db_)->database_time().value() + 60'000}));
  auto refused = ask<net::callback_reply>(
      resources_.callbacks, net::callback_call{id, auth::sha256_hex("guess"), {true, "{}"}});
  EXPECT_FALSE(refused.reply);
  EXPECT_EQ(woke.load(), 0) << "a refused token wakes nothing";
  auto ok = ask<net::callback_reply>(resources_.callbacks,
                                     net::callback_call{id, auth::sha256_hex("tok"), {true, "{}"}});
  ASSERT_TRUE(ok.reply) << message_of(ok.error);
  EXPECT_EQ(woke.load(), id);
}

}  // namespace ab::testing
