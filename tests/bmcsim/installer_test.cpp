// The simulated OS installer: a host booted from the installer CD calls back to a stand-in for
// the AutoBuild API.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bmcsim/fleet.hpp"
#include "bmcsim/installer.hpp"
#include "core/error.hpp"
#include "net/http/server.hpp"
#include "tests/fakes/http_call.hpp"

namespace {

using ab::bmc::sim::fleet_options;
using ab::bmc::sim::fleet_server;
using ab::testing::http_call;
using json = nlohmann::json;

const std::string basic = "Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\n";
const std::string system_path = "/bmc/h1/redfish/v1/Systems/437XR1138R2";

/// Polls `done` every 20 ms for up to 5 s.
bool within_5s(const std::function<bool()>& done) {
  for (int i = 0; i < 250 && !done(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return done();
}

/// Stands in for the AutoBuild API: records every request and answers `status`.
class callback_receiver {
 public:
  explicit callback_receiver(int status = 204) : status_(status) {
    ab::net::server_options o;
    o.port = 0;
    auto started = ab::net::http_server::start(
        o, [this](ab::net::http_request&& r, ab::net::responder respond) {
          std::lock_guard<std::mutex> guard{mutex_};
          received_.push_back(std::move(r));
          respond({status_, "", "", {}});
        });
    if (started) server_ = std::move(*started);
  }

  /// The callback URL of request `n`.
  std::string url(int n) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/callbacks/" +
           std::to_string(n);
  }

  std::vector<ab::net::http_request> received() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return received_;
  }

 private:
  int status_;
  mutable std::mutex mutex_;
  std::vector<ab::net::http_request> received_;
  std::unique_ptr<ab::net::http_server> server_;
};

/// Stands in for the AutoBuild API, holding every callback unanswered until `n` are in flight
/// at once; then answers them all (and later ones at once) with 204.
class gathering_receiver {
 public:
  explicit gathering_receiver(std::size_t n) : n_(n) {
    ab::net::server_options o;
    o.port = 0;
    o.threads = 1;
    auto started =
        ab::net::http_server::start(o, [this](ab::net::http_request&&, ab::net::responder respond) {
          std::vector<ab::net::responder> release;
          {
            std::lock_guard<std::mutex> guard{mutex_};
            held_.push_back(std::move(respond));
            most_ = std::max(most_, held_.size());
            if (most_ >= n_) release.swap(held_);
          }
          for (auto& r : release) r({204, "", "", {}});
        });
    if (started) server_ = std::move(*started);
  }

  std::string url(int n) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/callbacks/" +
           std::to_string(n);
  }

  /// Most callbacks held at once.
  std::size_t most() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return most_;
  }

  ~gathering_receiver() {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& r : held_) r({503, "", "", {}});
  }

 private:
  std::size_t n_;
  mutable std::mutex mutex_;
  std::vector<ab::net::responder> held_;
  std::size_t most_ = 0;
  std::unique_ptr<ab::net::http_server> server_;
};

class Installer : public ::testing::Test {
 protected:
  /// Starts a fleet whose resets take 5-15 ms and whose installs take `install_ms`.
  void start(int install_ms, int callback_timeout_ms = 5000) {
    fleet_options o;
    o.time_scale = 0.0025;
    o.install_ms = install_ms;
    o.callback_attempts = 2;
    o.callback_backoff_ms = 50;
    o.callback_timeout_ms = callback_timeout_ms;
    ab::net::server_options s;
    s.port = 0;
    auto started = fleet_server::start(o, s);
    ASSERT_TRUE(started) << ab::message_of(started.error());
    fleet_ = std::move(*started);
  }

  int call(const std::string& method, const std::string& path, const std::string& body) {
    return http_call(fleet_->port(), method, path, body, basic).status;
  }

  /// Inserts `image`, sets a one-time boot from `target` and powers on BMC `id`.
  void boot(const std::string& image, const std::string& target = "Cd",
            const std::string& id = "h1") {
    const auto root = "/bmc/" + id + "/redfish/v1";
    const auto system = root + "/Systems/437XR1138R2";
    if (!image.empty()) {
      ASSERT_EQ(
          call("POST", root + "/Managers/BMC/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia",
               json{{"Image", image}}.dump()),
          204);
    }
    ASSERT_EQ(
        call("PATCH", system,
             json{{"Boot",
                   {{"BootSourceOverrideTarget", target}, {"BootSourceOverrideEnabled", "Once"}}}}
                 .dump()),
        200);
    ASSERT_EQ(
        call("POST", system + "/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceRestart"})"),
        204);
  }

  json installs() { return (*fleet_->sim().state_of("h1"))["installs"]; }

  /// The kinds of h1's install events, in order.
  std::vector<std::string> kinds() {
    std::vector<std::string> out;
    for (const auto& e : installs()) out.push_back(e["kind"]);
    return out;
  }

  std::unique_ptr<fleet_server> fleet_;
};

TEST(InstallOrder, ComesFromTheDecodedCallbackAndTokenParameters) {
  auto o = ab::bmc::sim::install_order_of(
      "http://repo/"
      "inst.iso?arch=x86&callback=http%3A%2F%2Fnode%3A80%2Fv1%2Fcallbacks%2F7&token=a%2Bb");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->image, "http://repo/inst.iso");
  EXPECT_EQ(o->callback, "http://node:80/v1/callbacks/7");
  EXPECT_EQ(o->token, "a+b");
  EXPECT_FALSE(ab::bmc::sim::install_order_of("http://repo/inst.iso?token=t"));
  EXPECT_FALSE(ab::bmc::sim::install_order_of("http://repo/inst.iso"));
}

TEST(InstallFaults, ParseFromTheCommandLine) {
  auto spec = ab::bmc::sim::parse_fault_spec("sim-0001:install_fail=true,install_lost=true");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->bmc_id, "sim-0001");
  EXPECT_TRUE(spec->faults.install_fail);
  EXPECT_TRUE(spec->faults.install_lost);
  EXPECT_FALSE(ab::bmc::sim::parse_fault_spec("install_fail=maybe"));
}

TEST_F(Installer, CallsBackWithTheTokenAndSucceededNamingTheImage) {
  callback_receiver api;
  start(4000);  // 10 ms
  boot("http://repo/inst.iso?callback=" + api.url(7) + "&token=tok-7");
  ASSERT_TRUE(within_5s([&] { return !api.received().empty(); }));
  auto r = api.received().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/callbacks/7");
  EXPECT_EQ(r.headers["x-callback-token"], "tok-7");
  auto body = json::parse(r.body);
  EXPECT_EQ(body["status"], "succeeded");
  EXPECT_NE(body["message"].get<std::string>().find("http://repo/inst.iso"), std::string::npos);
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 2; }));
  EXPECT_EQ(kinds(), (std::vector<std::string>{"started", "called_back"}));
  EXPECT_EQ(installs()[1]["http_status"], 204);
}

TEST_F(Installer, InstallFailCallsBackWithStatusFailed) {
  callback_receiver api;
  start(4000);
  fleet_->sim().set_faults("h1", {.install_fail = true});
  boot("http://repo/inst.iso?callback=" + api.url(8) + "&token=t");
  ASSERT_TRUE(within_5s([&] { return !api.received().empty(); }));
  auto body = json::parse(api.received().at(0).body);
  EXPECT_EQ(body["status"], "failed");
  EXPECT_FALSE(body["message"].get<std::string>().empty());
}

TEST_F(Installer, InstallLostNeverCallsBack) {
  callback_receiver api;
  start(4000);
  fleet_->sim().set_faults("", {.install_lost = true});
  boot("http://repo/inst.iso?callback=" + api.url(9) + "&token=t");
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 2; }));
  EXPECT_EQ(kinds().back(), "lost");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(api.received().empty());
}

TEST_F(Installer, BootingFromDiskBeforeTheEndCancels) {
  callback_receiver api;
  start(200000);  // 500 ms
  boot("http://repo/inst.iso?callback=" + api.url(10) + "&token=t");
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 1; }));
  boot("", "Hdd");
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 2; }));
  EXPECT_EQ(kinds().back(), "cancelled");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_TRUE(api.received().empty());
}

TEST_F(Installer, PoweringOffBeforeTheEndCancels) {
  callback_receiver api;
  start(200000);  // 500 ms
  boot("http://repo/inst.iso?callback=" + api.url(12) + "&token=t");
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 1; }));
  ASSERT_EQ(
      call("POST", system_path + "/Actions/ComputerSystem.Reset", R"({"ResetType":"ForceOff"})"),
      204);
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 2; }));
  EXPECT_EQ(installs()[1]["detail"], "powered off");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_TRUE(api.received().empty());
}

TEST_F(Installer, AnUndeliveredCallbackIsRetriedThenRecordedAsFailed) {
  callback_receiver api{503};
  start(4000);
  boot("http://repo/inst.iso?callback=" + api.url(11) + "&token=t");
  ASSERT_TRUE(within_5s([&] { return kinds().size() == 2; }));
  EXPECT_EQ(api.received().size(), 2U);
  EXPECT_EQ(kinds().back(), "failed");
  EXPECT_EQ(installs()[1]["http_status"], 503);
}

TEST_F(Installer, SeveralInstallsCallBackAtOnce) {
  // Each callback is held until four are in flight: one at a time, none would ever be answered.
  gathering_receiver api{4};
  start(4000, 20000);
  for (int n = 1; n <= 4; ++n)
    boot("http://repo/inst.iso?callback=" + api.url(n) + "&token=t", "Cd", "p" + std::to_string(n));
  auto called_back = [&](int n) {
    auto installs = (*fleet_->sim().state_of("p" + std::to_string(n)))["installs"];
    return installs.size() == 2 && installs[1]["kind"] == "called_back";
  };
  ASSERT_TRUE(within_5s([&] {
    return called_back(1) && called_back(2) && called_back(3) && called_back(4);
  })) << "callbacks held at once: "
      << api.most();
  EXPECT_EQ(api.most(), 4U);
  EXPECT_EQ(fleet_->sim().stats()["callbacks"]["in_flight_max"], 4);
  EXPECT_EQ(fleet_->sim().stats()["callbacks"]["sent"], 4);
}

TEST_F(Installer, ABootFromCdWithoutACallbackInstallsNothing) {
  start(4000);
  boot("http://repo/plain.iso");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(installs().empty());
}

}  // namespace
