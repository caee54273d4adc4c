#pragma once

// A supervisor on a real actor system and an embedded store, with handlers a test scripts.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/supervisor.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

using actors::job_outcome;

/// The sample's three clusters: build ← reimage, discover ← discover and build, others ← the rest.
inline config::cluster_map three_clusters() {
  config::cluster_map m;
  m.clusters["build"].actions = {"reimage"};
  m.clusters["discover"].actions = {"discover", "build"};
  m.clusters["others"].actions = {"*"};
  m.default_cluster = "others";
  return m;
}

/// A handler whose behaviour the test scripts per call.
class scripted final : public actors::job_handler {
 public:
  explicit scripted(std::function<job_outcome(const storage::claimed_job&)> fn)
      : fn_(std::move(fn)) {}
  job_outcome run(const storage::claimed_job& job) override {
    ++runs;
    return fn_(job);
  }
  std::atomic<int> runs{0};

 private:
  std::function<job_outcome(const storage::claimed_job&)> fn_;
};

class Supervisor : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_shared<scratch_store>("sqlite", clk_);
    ASSERT_FALSE(HasFailure());
    node_.node_id = "node-t";
    node_.site = "dc1";
    node_.workers = {{"default", 1}};
    node_.poll_interval_ms = 20;
    node_.idle_poll_max_ms = 200;
    node_.lease_ms = 2000;
    node_.renew_interval_ms = 500;
    node_.claim_batch = 4;
    node_.drain_timeout_ms = 10000;
  }

  /// The store behind `db_`, shared with the actors (the scratch store keeps ownership).
  std::shared_ptr<storage::store> store() {
    return std::shared_ptr<storage::store>(&**db_, [](storage::store*) {});
  }

  /// Spawns a supervisor on the fixture's node, store and handlers; `tune` may change its
  /// configuration first.
  actors::supervisor_actor start(caf::actor_system& sys,
                                 config::cluster_map map = config::cluster_map::defaults(),
                                 const std::function<void(actors::supervisor_config&)>& tune = {}) {
    actors::supervisor_config cfg;
    cfg.node = node_;
    cfg.map = std::move(map);
    cfg.store = store();
    cfg.handlers = handlers_;
    cfg.clk = clk_;
    if (tune) tune(cfg);
    return actors::spawn_supervisor(sys, std::move(cfg));
  }

  actors::pool_status status(caf::actor_system& sys, const actors::supervisor_actor& sup) {
    caf::scoped_actor self{sys};
    actors::pool_status out;
    self->request(sup, std::chrono::seconds(10), actors::status_atom::value)
        .receive([&](actors::pool_status& s) { out = s; },
                 [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return out;
  }

  bool drain(caf::actor_system& sys, const actors::supervisor_actor& sup) {
    caf::scoped_actor self{sys};
    bool out = false;
    self->request(sup, std::chrono::seconds(30), actors::drain_atom::value)
        .receive([&](bool ok) { out = ok; },
                 [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
    return out;
  }

  storage::request_id submit(const std::string& host, const std::vector<std::string>& types,
                             const std::string& action = "power_on", int max_attempts = 5,
                             const std::string& site = "dc1") {
    storage::request_spec s;
    s.action = action;
    s.host = host;
    s.site = site;
    for (const auto& t : types) s.chain.push_back({t, max_attempts, 0});
    auto out = (*db_)->submit({s});
    EXPECT_TRUE(out);
    return out ? out->at(0).id : 0;
  }

  storage::request_state state_of(storage::request_id id) {
    auto r = (*db_)->request(id);
    return r ? r->state : storage::request_state::failed;
  }

  std::shared_ptr<system_clock> clk_ = std::make_shared<system_clock>();
  std::shared_ptr<scratch_store> db_;
  config::node_config node_;
  std::shared_ptr<actors::handler_registry> handlers_ =
      std::make_shared<actors::handler_registry>();
};

}  // namespace ab::testing
