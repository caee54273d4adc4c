#pragma once

// A logged-in conversation with one Redfish service: resolves links against the endpoint's
// origin, authenticates (session, else HTTP Basic; once more after a 401), retries transient
// failures, and turns Redfish error bodies into `caf::error`s. Its session (login, connection,
// what navigation found) outlives it when handed on. Internal to `ab_bmc`.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "bmc/detail/curl_http.hpp"
#include "bmc/driver.hpp"
#include "core/clock.hpp"

namespace ab::bmc::detail {

/// Retry and polling settings shared by every call of a driver.
struct client_policy {
  /// Retries of one request after a transient failure (connect error, 5xx).
  int retries = 2;
  /// First backoff; doubles per retry; a `Retry-After` is honoured up to the remaining budget.
  std::chrono::milliseconds backoff{200};
  /// Times the retries' deadlines and the driver's waits (its monotonic reading).
  std::shared_ptr<const ab::clock> clock = std::make_shared<system_clock>();
  /// Reads the SessionService's `SessionTimeout` after each login (one GET), so that a kept
  /// session is renewed before the BMC expires it; false when sessions are never kept idle
  /// as long as the shortest timeout a BMC may set.
  bool read_session_timeout = true;
};

/// An answer whose body parsed as JSON (null when empty).
struct json_answer {
  long status = 0;
  std::string location;
  nlohmann::json body;
};

/// What the conversations with one BMC share across driver calls: the login, the open
/// connection, the service root and the resources navigation already found. Holds no
/// password; owned by one call at a time (`redfish_sessions` keeps it in between).
struct redfish_session {
  /// The X-Auth-Token; empty when requests carry HTTP Basic credentials.
  std::string token;
  /// True when requests carry HTTP Basic credentials (no session service, or a guarded root).
  bool basic = false;
  /// The DELETE that ends the session (URL, TLS settings, token); empty URL with HTTP Basic.
  http_call logout;
  /// The service root.
  nlohmann::json root;
  /// What navigation resolved, by key (e.g. the first System's path); see
  /// `redfish_navigation.hpp`.
  std::map<std::string, nlohmann::json> found;
  /// Logins made for this session: 1, plus one per re-login after a 401.
  int logins = 0;
  /// The BMC's `SessionTimeout` (it ends a session unused this long); 0 when unknown.
  std::chrono::milliseconds timeout{0};
  /// The kept connection to the BMC.
  http_connection connection;
};

/// Deletes the session `s` stands for, if any (best effort, within `limit`); never logs the
/// token.
void log_out(redfish_session& s, std::chrono::milliseconds limit);

/// One Redfish conversation (one driver call). Not thread-safe.
class redfish_client {
 public:
  /// Resumes `session` when given (no request), else reads the service root and logs in.
  static caf::expected<std::unique_ptr<redfish_client>> open(
      const target& t, client_policy policy, std::unique_ptr<redfish_session> session = nullptr);

  redfish_client(const redfish_client&) = delete;
  redfish_client& operator=(const redfish_client&) = delete;

  /// Logs out of a session that was not handed on with `release`.
  ~redfish_client();

  /// Hands the session on for the next call to resume; the client then logs out no more.
  std::unique_ptr<redfish_session> release();

  /// The service root, as read at login.
  const nlohmann::json& root() const { return session_->root; }

  /// GETs the resource at `path` (an `@odata.id`) as JSON; a non-2xx status is an error.
  caf::expected<nlohmann::json> get(const std::string& path);

  /// Sends `body` with `method` to `path`, with `If-Match: etag` when given; a non-2xx
  /// status is an error.
  caf::expected<json_answer> send(const std::string& method, const std::string& path,
                                  const nlohmann::json& body, const std::string& etag = "");

  /// Like `get`, but hands back the status and `Location` too (task monitors answer 202).
  caf::expected<json_answer> poll(const std::string& path);

  /// The endpoint as given, for error sentences.
  const std::string& endpoint() const { return target_.endpoint; }

  /// The clock of waits and deadlines.
  const ab::clock& clock() const { return *policy_.clock; }

  /// True once a session token is in use (false: HTTP Basic).
  bool has_session() const { return !session_->token.empty(); }

  /// What navigation found under `key` in an earlier call of this session; null when unknown.
  /// Marks the conversation as relying on it (`recalled_any`).
  const nlohmann::json* recall(const std::string& key);

  /// Remembers `value` under `key` for the later calls of this session.
  void remember(const std::string& key, nlohmann::json value);

  /// True once `recall` answered something in this conversation.
  bool recalled_any() const { return recalled_; }

  /// Forgets everything navigation found (a remembered path answered 404).
  void forget_found();

  /// Forgets what navigation found under `key` alone (it went stale).
  void forget(const std::string& key);

 private:
  redfish_client(target t, client_policy policy, std::string origin, std::string prefix);

  http_call make_call(std::string method, std::string url, std::string body) const;
  caf::error start();
  caf::error login();
  void read_session_timeout();
  caf::expected<std::string> url_of(const std::string& path) const;
  caf::expected<http_answer> exchange(http_call call);
  caf::expected<http_answer> attempts(http_call& call);
  caf::expected<json_answer> checked(const std::string& method, const std::string& path,
                                     http_answer answer) const;

  target target_;
  client_policy policy_;
  std::string origin_;
  std::string prefix_;
  /// The endpoint's host, for the policy's checks of each connection.
  std::string host_;
  /// True once the service root proved a Redfish service: only then is error text quoted.
  bool redfish_ = false;
  /// True once this conversation logged in again after a 401 (it does so once).
  bool relogged_ = false;
  bool recalled_ = false;
  std::unique_ptr<redfish_session> session_;
};

/// The `@odata.id` of `resource[key]`, or "" when absent.
std::string link(const nlohmann::json& resource, const std::string& key);

/// The `@odata.id`s of a collection's `Members`.
std::vector<std::string> members(const nlohmann::json& collection);

/// A string member of `j`, or "" when absent or not a string.
std::string text(const nlohmann::json& j, const std::string& key);

/// The sentence a Redfish error body carries (`error.message` and each
/// `@Message.ExtendedInfo[].Message`, printable and capped), or "" when the body is not a
/// Redfish error (an `error` object with a string `code`).
std::string redfish_message(const nlohmann::json& body);

}  // namespace ab::bmc::detail
