// The API's resources as typed actors, without HTTP: a typed message in, a typed reply (or a
// caf::error) out, and each error as the one mapping in net/api/error turns it into HTTP.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

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

/// Submissions sent while both store actors are held up (each serving a read whose
/// `waiting_for` waits for `release`): what the batcher gathers meanwhile.
class ApiSubmitBatches : public ApiResources {
 protected:
  void SetUp() override {
    ApiResources::SetUp();
    spawn([this](net::api_options& o) {
      o.store_actors = 2;
      o.submit_batches = batches_;
      o.read_batches = read_batches_;
      o.waiting_for = [this](const storage::request_view&) -> std::optional<std::string> {
        ++held_;
        while (!release_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return std::nullopt;
      };
    });
    register_host("hold");
    auto sub = ask<net::submit_reply>(resources_.requests, submission("power_on", "hold"));
    ASSERT_TRUE(sub.reply) << message_of(sub.error);
    hold_id_ = sub.reply->outcomes[0].id;
    batches_->store(0);
  }
  void TearDown() override {
    release_ = true;
    // Before the actor system, which waits for every actor, this one too.
    holder_.reset();
    ApiResources::TearDown();
  }

  /// Occupies both store actors until `release_`.
  void hold_store_actors() {
    for (int i = 0; i < 2; ++i)
      (*holder_)->send(resources_.requests, net::get_request_call{anyone_, hold_id_});
    ASSERT_TRUE(wait_until([&] { return held_.load() == 2; }));
  }

  std::shared_ptr<std::atomic<std::int64_t>> batches_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::shared_ptr<std::atomic<std::int64_t>> read_batches_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::atomic<int> held_{0};
  std::atomic<bool> release_{false};
  storage::request_id hold_id_ = 0;
  std::unique_ptr<caf::scoped_actor> holder_;

  /// Hands `c` to the gatherer; the future holds its reply or error.
  std::future<caf::expected<net::submit_reply>> gather(net::submit_call c) {
    auto p = std::make_shared<std::promise<caf::expected<net::submit_reply>>>();
    auto f = p->get_future();
    resources_.submits->serve(
        std::move(c), [p](caf::expected<net::submit_reply> r) { p->set_value(std::move(r)); });
    return f;
  }
};

TEST_F(ApiSubmitBatches, GetsThatWaitForTheStoreAreReadTogetherAndEachGetsItsOwnAnswer) {
  std::vector<storage::request_id> ids;
  for (int i = 0; i < 3; ++i) {
    register_host("r" + std::to_string(i));
    auto sub = ask<net::submit_reply>(resources_.requests,
                                      submission("power_on", "r" + std::to_string(i)));
    ASSERT_TRUE(sub.reply) << message_of(sub.error);
    ids.push_back(sub.reply->outcomes[0].id);
  }
  // One of them finished: it is answered from what the node keeps, the others from the store.
  auto cancelled = ask<net::cancel_reply>(resources_.requests, net::cancel_call{anyone_, ids[2]});
  ASSERT_TRUE(cancelled.reply) << message_of(cancelled.error);
  holder_ = std::make_unique<caf::scoped_actor>(*sys_);
  hold_store_actors();
  std::vector<storage::request_id> wanted;
  for (int i = 0; i < 12; ++i) wanted.push_back(ids[static_cast<std::size_t>(i) % ids.size()]);
  wanted.push_back(ids.back() + 1000);  // no such request
  std::vector<std::future<caf::expected<net::request_reply>>> calls;
  for (auto id : wanted) {
    auto p = std::make_shared<std::promise<caf::expected<net::request_reply>>>();
    calls.push_back(p->get_future());
    resources_.reads->serve(
        net::get_request_call{anyone_, id},
        [p](caf::expected<net::request_reply> r) { p->set_value(std::move(r)); });
  }
  release_ = true;
  for (std::size_t i = 0; i + 1 < wanted.size(); ++i) {
    auto r = calls[i].get();
    ASSERT_TRUE(r) << i << ": " << message_of(r.error());
    EXPECT_EQ(r->view.id, wanted[i]);
    EXPECT_EQ(r->view.host, "r" + std::to_string(i % ids.size()));
    EXPECT_EQ(r->view.state, i % ids.size() == 2 ? storage::request_state::cancelled
                                                 : storage::request_state::queued);
    EXPECT_FALSE(r->view.jobs.empty());
  }
  auto missing = calls.back().get();
  ASSERT_FALSE(missing);
  EXPECT_EQ(net::to_api_error(missing.error()).status, 404);
  // The two that came first went alone, one per store actor; the eleven that came meanwhile
  // went together.
  EXPECT_EQ(read_batches_->load(), 2 + 1);
}

TEST_F(ApiSubmitBatches, SubmissionsThatWaitForTheStoreGoTogetherInOneBatch) {
  for (int i = 0; i < 20; ++i) register_host("h" + std::to_string(i));
  holder_ = std::make_unique<caf::scoped_actor>(*sys_);
  hold_store_actors();
  std::vector<std::future<caf::expected<net::submit_reply>>> calls;
  for (int i = 0; i < 20; ++i)
    calls.push_back(gather(submission("power_on", "h" + std::to_string(i))));
  release_ = true;
  std::set<storage::request_id> ids;
  for (int i = 0; i < 20; ++i) {
    auto r = calls[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r) << message_of(r.error());
    ASSERT_EQ(r->outcomes.size(), 1u);
    EXPECT_EQ(r->outcomes[0].what, storage::submit_outcome::status::created);
    auto id = r->outcomes[0].id;
    ASSERT_GT(id, 0);
    ids.insert(id);
    // Each caller got its own request, for its own host.
    auto got = ask<net::request_reply>(resources_.requests, net::get_request_call{anyone_, id});
    ASSERT_TRUE(got.reply) << message_of(got.error);
    EXPECT_EQ(got.reply->view.host, "h" + std::to_string(i));
  }
  EXPECT_EQ(ids.size(), 20u);
  // The first two went alone, one per store actor; the 18 that came meanwhile went together.
  EXPECT_EQ(batches_->load(), 3);
}

TEST_F(ApiSubmitBatches, ACallTheStoreRefusesInABatchIsRefusedAloneAndTheOthersAreStored) {
  for (int i = 0; i < 4; ++i) register_host("h" + std::to_string(i));
  holder_ = std::make_unique<caf::scoped_actor>(*sys_);
  hold_store_actors();
  std::vector<std::future<caf::expected<net::submit_reply>>> calls;
  // Two to fill the store actors, then three gathered: one names a priority class the store
  // does not know, which refuses a whole transaction, and one a host nobody registered.
  for (int i = 0; i < 5; ++i) {
    auto c = submission("power_on", i == 4 ? "ghost" : "h" + std::to_string(i));
    if (i == 3) c.cmd.priority_class = "no-such-class";
    calls.push_back(gather(std::move(c)));
  }
  release_ = true;
  std::vector<caf::error> errors(5);
  std::vector<storage::request_id> ids(5, 0);
  for (std::size_t i = 0; i < 5; ++i) {
    auto r = calls[i].get();
    if (r)
      ids[i] = r->outcomes.at(0).id;
    else
      errors[i] = std::move(r.error());
  }
  for (std::size_t i : {0u, 1u, 2u}) EXPECT_GT(ids[i], 0) << i << ": " << message_of(errors[i]);
  EXPECT_TRUE(errors[3]);
  EXPECT_NE(message_of(errors[3]).find("no-such-class"), std::string::npos);
  // An unknown host is refused by the API's own check, before the store is asked.
  EXPECT_EQ(net::to_api_error(errors[4]).code, "unknown_host");
}

TEST_F(ApiSubmitBatches, CallsForOneHostAreServedOneAfterAnotherInTheOrderTheyCame) {
  register_host("h1");
  register_host("h2");
  holder_ = std::make_unique<caf::scoped_actor>(*sys_);
  hold_store_actors();
  std::vector<std::future<caf::expected<net::submit_reply>>> calls;
  // With a store actor free for each, two calls for h2 still go one after the other; then the
  // same call twice with one Idempotency-Key: the second finds the first's request, as it
  // would had it come later, never a host busy with its twin.
  calls.push_back(gather(submission("power_on", "h2")));
  calls.push_back(gather(submission("power_off", "h2")));
  auto keyed = submission("power_on", "h1");
  keyed.idempotency_key = "k1";
  calls.push_back(gather(keyed));
  calls.push_back(gather(keyed));
  release_ = true;
  std::vector<storage::submit_outcome> outcomes(4);
  std::vector<caf::error> errors(4);
  for (std::size_t i = 0; i < 4; ++i) {
    auto r = calls[i].get();
    if (r)
      outcomes[i] = r->outcomes.at(0);
    else
      errors[i] = std::move(r.error());
  }
  ASSERT_FALSE(errors[0]) << message_of(errors[0]);
  EXPECT_EQ(outcomes[0].what, storage::submit_outcome::status::created);
  EXPECT_EQ(net::to_api_error(errors[1]).code, "host_busy") << message_of(errors[1]);
  ASSERT_FALSE(errors[2]) << message_of(errors[2]);
  ASSERT_FALSE(errors[3]) << message_of(errors[3]);
  EXPECT_EQ(outcomes[2].what, storage::submit_outcome::status::created);
  EXPECT_EQ(outcomes[3].what, storage::submit_outcome::status::existing);
  EXPECT_EQ(outcomes[3].id, outcomes[2].id);
}

}  // namespace ab::testing
