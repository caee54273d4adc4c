#pragma once

// A fake Redfish BMC for tests: serves a DMTF mockup over real HTTP(S) under a URL prefix,
// with sessions, HTTP Basic, power, boot override, virtual media and task-monitored secure
// erase, and records every request that is not a GET.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/http/server.hpp"

namespace ab::testing {

/// What a `fake_redfish` serves and how it behaves.
struct fake_redfish_options {
  /// A short-form mockup directory (e.g. `tests/data/redfish-mockups/public-rackmount1`).
  std::string mockup_dir;
  /// The URL prefix in front of `/redfish/v1`; every `@odata.id` is rewritten to carry it.
  std::string prefix = "/bmc/m1";
  std::string user = "admin";
  std::string password = "secret";
  /// False: POSTs to the session collection answer 405 (the client must use HTTP Basic).
  bool sessions = true;
  /// False: the service root too needs credentials (as on some BMCs).
  bool public_root = true;
  /// GETs of a new task monitor answered 202 before it reports `Completed`.
  int task_polls = 2;
  /// The `TaskState` a task monitor ends in.
  std::string task_outcome = "Completed";
  /// Serve HTTPS with this certificate and key when set.
  net::tls_settings tls;
};

/// A request the fake received, other than a GET.
struct recorded_request {
  std::string method;
  /// Path without the prefix, e.g. `/redfish/v1/Systems/437XR1138R2`.
  std::string path;
  std::string body;
  std::map<std::string, std::string> headers;
};

/// The fake BMC; serves on 127.0.0.1 and a free port until destroyed.
class fake_redfish {
 public:
  /// Loads the mockup and starts serving; throws `std::runtime_error` on failure.
  explicit fake_redfish(fake_redfish_options options);
  ~fake_redfish();

  /// `http[s]://127.0.0.1:PORT/PREFIX`.
  std::string endpoint() const;

  /// The mutating requests so far.
  std::vector<recorded_request> requests() const;

  /// The current state of the resource at `path` (without the prefix); null if none.
  nlohmann::json resource(const std::string& path) const;

  /// Replaces the resource at `path`.
  void set_resource(const std::string& path, nlohmann::json body);

  /// Answers requests with `f`'s response when it gives one (fault injection).
  void intercept(std::function<std::optional<net::http_response>(const net::http_request&)> f);

  /// Never answers again (a hung BMC).
  void hang();

  /// Forgets every session, as a BMC whose sessions time out (their tokens answer 401).
  void expire_sessions();

  /// Accepts `user` and `password` from now on (a rotated credential).
  void set_credentials(const std::string& user, const std::string& password);

  /// Requests received so far, GETs included.
  int served() const;

  /// Sessions created so far (successful logins).
  int logins() const;

  /// Sessions open now.
  std::size_t open_sessions() const;

 private:
  void handle(net::http_request&& req, net::responder respond);
  net::http_response answer(const std::string& method, const std::string& path,
                            const net::http_request& req);
  net::http_response post(const std::string& path, const nlohmann::json& body);
  bool authorized(const net::http_request& req) const;
  net::http_response json_response(int status, const nlohmann::json& body) const;

  fake_redfish_options options_;
  mutable std::mutex mutex_;
  std::map<std::string, nlohmann::json> resources_;
  std::map<std::string, int> task_polls_left_;
  std::vector<std::string> tokens_;
  std::vector<recorded_request> requests_;
  std::function<std::optional<net::http_response>(const net::http_request&)> intercept_;
  bool hang_ = false;
  std::vector<net::responder> parked_;
  int counter_ = 0;
  int served_ = 0;
  int logins_ = 0;
  std::unique_ptr<net::http_server> server_;
};

}  // namespace ab::testing
