#pragma once

// The REST API served over real HTTP on a scratch SQLite store, for API tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "auth/authenticator.hpp"
#include "lifecycle/rules.hpp"
#include "lifecycle/workflows.hpp"
#include "net/api/api.hpp"
#include "net/http/server.hpp"
#include "tests/fakes/http_call.hpp"
#include "tests/fakes/test_store.hpp"

namespace ab::testing {

using json = nlohmann::json;

/// Options of an authenticator whose policy is `policy`, written to `dir`/policy.json: the
/// project's actions and priority classes, the file not watched (reread on demand only).
inline auth::authenticator_options policy_options(const std::filesystem::path& dir,
                                                  const std::string& policy) {
  std::ofstream(dir / "policy.json") << policy;
  auth::authenticator_options o;
  o.policy_file = (dir / "policy.json").string();
  for (const auto& [action, steps] : lifecycle::workflows()) o.words.actions.push_back(action);
  o.words.classes = {"maas", "user", "organic"};
  o.watch_interval = {};
  return o;
}

class Api : public ::testing::Test {
 protected:
  /// Serves the API on a fresh SQLite store with `threads` store actors; `tune` may change its
  /// options first.
  void start(std::size_t threads = 2, std::size_t max_in_flight = 64,
             const std::function<void(net::api_options&)>& tune = {}) {
    db_ = std::make_unique<scratch_store>("sqlite", std::make_shared<system_clock>());
    ASSERT_FALSE(HasFailure());
    sys_ = std::make_unique<caf::actor_system>(sys_cfg_);
    net::api_options opts;
    // Without the lifecycle: tests of other rules submit any action on new hosts.
    opts.rules = std::make_shared<const lifecycle::rules>(lifecycle::rules_options{false, {}});
    opts.store_actors = threads;
    opts.max_in_flight = max_in_flight;
    if (tune) tune(opts);
    api_ = std::make_unique<net::api_service>(
        *sys_, std::shared_ptr<storage::store>(&**db_, [](storage::store*) {}), opts);
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
    if (server_) server_->stop();
    server_.reset();
    api_.reset();
    sys_.reset();
    db_.reset();
  }

  http_answer call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& headers = "") {
    return http_call(server_->port(), method, path, body, headers);
  }

  void register_hosts(std::initializer_list<const char*> names, const std::string& site = "dc1",
                      const std::string& headers = "") {
    json hosts = json::array();
    for (const auto* n : names)
      hosts.push_back({{"name", n},
                       {"site", site},
                       {"bmc_endpoint", std::string{"https://bmc-"} + n},
                       {"credential_ref", "file:/etc/ab/bmc"}});
    ASSERT_EQ(call("POST", "/v1/hosts", json{{"hosts", hosts}}.dump(), headers).status, 201);
  }

  std::unique_ptr<scratch_store> db_;
  caf::actor_system_config sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<net::api_service> api_;
  std::unique_ptr<net::http_server> server_;
};

}  // namespace ab::testing
