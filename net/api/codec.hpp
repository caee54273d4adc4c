#pragma once

// Parsing and validation of API input, and the JSON shapes of API output: plain functions,
// tested without a network.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "lifecycle/eta_board.hpp"
#include "net/api/error.hpp"
#include "storage/types.hpp"

namespace ab::net {

/// A validated `POST /v1/requests` body.
struct submit_command {
  std::string action;
  std::vector<std::string> hosts;
  std::string priority_class = "user";
  /// Action parameters as compact JSON text.
  std::string params = "{}";
  /// `"dry_run": true`: answer what the call would do and change nothing.
  bool dry_run = false;
  /// `"confirm_hosts": N`: the host count a destructive bulk call confirms (docs/safety.md).
  std::optional<std::int64_t> confirm_hosts;
  /// `"whole_call_hosts": N`: this body is ab-router's part of a call on N hosts that it split
  /// over sites; the confirmation and the per-call cap are those of the whole call
  /// (docs/safety.md). At least the body's host count.
  std::optional<std::int64_t> whole_call_hosts;
};

/// The host count a destructive call's confirmation and per-call cap apply to: the whole call's
/// when `cmd` is a part of a split call, never fewer than the hosts it names.
std::int64_t call_host_count(const submit_command& cmd);

/// Parses and validates a submission; `known_actions` and `classes` bound what is accepted.
/// Parses a request body that must be one JSON object nesting at most `max_depth` levels, or
/// says what is wrong with it (`malformed_json`, `too_deep`, `wrong_type`, all 400).
std::variant<nlohmann::json, api_error> parse_object(const std::string& body, int max_depth);

std::variant<submit_command, api_error> parse_submit(const std::string& body,
                                                     const std::vector<std::string>& known_actions,
                                                     const std::vector<std::string>& classes);

/// Parses and validates a `POST /v1/hosts` body: one host object or `{"hosts": [...]}`.
std::variant<std::vector<storage::host_record>, api_error> parse_hosts(const std::string& body);

/// A validated `PATCH /v1/hosts/{name}` body: the fields it changes.
struct host_changes {
  std::optional<std::string> site;
  std::optional<std::string> bmc_endpoint;
  std::optional<std::string> credential_ref;
  std::optional<std::string> rack;
  std::optional<std::string> power_domain;
};

/// Parses and validates a `PATCH /v1/hosts/{name}` body (site, bmc_endpoint, credential_ref).
std::variant<host_changes, api_error> parse_host_changes(const std::string& body);

/// `host` with `changes` applied.
storage::host_record apply_changes(const host_changes& changes, storage::host_record host);

/// Parses a `PATCH /v1/hosts/{name}` body onto `host` (site, bmc_endpoint, credential_ref).
std::variant<storage::host_record, api_error> parse_host_patch(const std::string& body,
                                                               storage::host_record host);

/// A validated installer callback body: `{"status": "succeeded"|"failed", "message": "…",
/// "details": {…}}`.
struct callback_report {
  bool succeeded = false;
  /// The body as compact JSON: the event the waiting job wakes with.
  std::string payload;
};

/// Parses and validates an installer callback body.
std::variant<callback_report, api_error> parse_callback(const std::string& body);

/// Parses the query of `GET /v1/requests` (state, host, action, site, since, cursor, limit).
std::variant<storage::request_filter, api_error> parse_request_query(const std::string& query);

/// Splits `a=1&b=2` (percent-decoded); a malformed escape is an error.
std::variant<std::map<std::string, std::string>, api_error> parse_query(const std::string& query);

/// `s` as safe to quote back in a message: at most 64 characters, every byte outside
/// printable ASCII (control characters, bidi and zero-width marks) as `\xNN`.
std::string printable(const std::string& s);

/// Longest host name and site name accepted.
inline constexpr std::size_t max_host_name = 253;
inline constexpr std::size_t max_site_name = 63;

/// True for a host name AutoBuild accepts, DNS-like: 1–253 ASCII letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit (so never `.` or `..`, no whitespace, control
/// characters, bidi or zero-width marks).
bool valid_host_name(const std::string& name);

/// True for a site name AutoBuild accepts: 1–63 lowercase ASCII letters, digits and `-`,
/// starting with a letter or digit (the rule of `ab::valid_site_name`, core/site_name.hpp).
bool valid_site_name(const std::string& name);

/// The normalised call that an idempotency key's fingerprint covers: action, hosts, the
/// priority class with the default applied, and the params in canonical JSON (keys sorted),
/// so that `"priority":"user"` and no priority at all are the same call.
std::string canonical_call(const submit_command& cmd);

/// Parses the query of `GET /v1/hosts` (site, state, after, limit).
std::variant<storage::host_filter, api_error> parse_host_query(const std::string& query);

/// JSON of a request with its jobs, `waiting_for` (why it waits) and `eta` (when it will be
/// done) when given, and its `progress` (steps done of its chain).
std::string encode_request(const storage::request_view& r,
                           const std::optional<std::string>& waiting_for = std::nullopt,
                           const std::optional<lifecycle::estimate>& eta = std::nullopt);

/// JSON of a page of requests; `etas` (when not empty) holds each item's estimate, in order.
std::string encode_request_page(const storage::request_page& page,
                                const std::vector<std::optional<lifecycle::estimate>>& etas = {});

/// JSON of `GET /v1/queue`: the site and one entry per cluster, job type and class.
std::string encode_queue(const std::string& site,
                         const std::vector<std::pair<std::string, lifecycle::queue_line>>& lines);

/// JSON of a host.
std::string encode_host(const storage::host_record& h);

/// JSON of the outcomes of a submission, host by host.
std::string encode_outcomes(const std::vector<std::string>& hosts,
                            const std::vector<storage::submit_outcome>& outcomes);

}  // namespace ab::net
