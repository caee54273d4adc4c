#pragma once

// A logged-in conversation with one Redfish service: resolves links against the endpoint's
// origin, authenticates (session, else HTTP Basic), retries transient failures, and turns
// Redfish error bodies into `caf::error`s. Internal to `ab_bmc`.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

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
};

/// An answer whose body parsed as JSON (null when empty).
struct json_answer {
  long status = 0;
  std::string location;
  nlohmann::json body;
};

/// One Redfish conversation; logs out on destruction. Not thread-safe: one per driver call.
class redfish_client {
 public:
  /// Reads the service root and logs in.
  static caf::expected<std::unique_ptr<redfish_client>> open(const target& t, client_policy policy);

  redfish_client(const redfish_client&) = delete;
  redfish_client& operator=(const redfish_client&) = delete;

  /// Deletes the session, if one was made.
  ~redfish_client();

  /// The service root, as read by `open`.
  const nlohmann::json& root() const { return root_; }

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
  bool has_session() const { return !token_.empty(); }

 private:
  redfish_client(target t, client_policy policy, std::string origin, std::string prefix);

  http_call make_call(std::string method, std::string url, std::string body) const;
  caf::error login();
  caf::expected<std::string> url_of(const std::string& path) const;
  caf::expected<http_answer> exchange(http_call call);
  caf::expected<json_answer> checked(const std::string& method, const std::string& path,
                                     http_answer answer) const;

  target target_;
  client_policy policy_;
  std::string origin_;
  std::string prefix_;
  /// The endpoint's host, for the policy's checks of each connection.
  std::string host_;
  std::string token_;
  /// True when requests carry HTTP Basic credentials (no session service, or a guarded root).
  bool basic_ = false;
  /// True once the service root proved a Redfish service: only then is error text quoted.
  bool redfish_ = false;
  std::string session_;
  nlohmann::json root_;
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
