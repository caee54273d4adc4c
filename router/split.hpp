#pragma once

// Calls whose hosts span sites: reading the hosts out of a body, one body per site, and one
// answer merged from the sites' answers. Plain functions, tested without a network.

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/api/error.hpp"
#include "net/http/server.hpp"

namespace ab::router {

/// A `POST /v1/requests` body as the router reads it.
struct submission {
  /// The body without the router's `site` field.
  nlohmann::json doc;
  /// The hosts it names, in order; empty when the body is not a submission the router can
  /// route by host (malformed, or a host name no node accepts): the node's own answer is then
  /// what the caller gets.
  std::vector<std::string> hosts;
  /// The explicit site of the body's `site` field.
  std::optional<std::string> site;
};

/// Reads a submission; a `site` field that is not a valid site name is an error. A caller's
/// `whole_call_hosts` is dropped: only the router says what a part belongs to.
std::variant<submission, net::api_error> read_submission(const std::string& body);

/// The body of the part of `s` that goes to one site: the hosts of that site, in order, and
/// when they are fewer than the call's, `whole_call_hosts`: the call's host count, so that the
/// node checks the caller's `confirm_hosts` (and the per-call cap) against the whole call.
std::string submission_part(const submission& s, const std::vector<std::string>& hosts);

/// A `POST /v1/hosts` body as the router reads it: each host object with its `site`.
struct registration {
  std::vector<nlohmann::json> hosts;
  /// The `site` field of each host, in the same order.
  std::vector<std::string> sites;
  /// False when the body is not a well-formed registration (the node's answer is given).
  bool routable = false;
};

/// Reads a registration (one host object, or `{"hosts": [...]}`).
registration read_registration(const std::string& body);

/// The body registering `hosts`.
std::string registration_part(const std::vector<nlohmann::json>& hosts);

/// What one site answered to its part of a split call.
struct part_outcome {
  std::string site;
  /// The hosts of the part, in order.
  std::vector<std::string> hosts;
  /// The node's status, or the router's when no node answered (503, 502, 504, 429).
  int status = 0;
  /// The node's body, or the router's error body.
  std::string body;
};

/// One answer to a submission split over sites. Every site accepted its part (202): 202; every
/// part failed with one status: that status, with the first part's `error`; otherwise 207.
/// The body lists every host in the submission's order under `requests` (the node's entry with
/// its `site`, or for a failed part `status` `refused` (4xx) or `failed` with the part's
/// `error`), and every part under `sites` (`site`, `status`, `hosts`, `error` if it failed).
net::http_response merge_submission(const std::vector<std::string>& hosts,
                                    const std::vector<part_outcome>& parts);

/// One answer to a registration split over sites: 201 when every site stored its part, the
/// same shape of `sites` as `merge_submission`, and under `hosts` what the sites stored.
net::http_response merge_registration(const std::vector<part_outcome>& parts);

/// One answer to `GET /v1/queue` asked of every live site: 200 when every site answered, the
/// same shape of `sites` as `merge_submission` (with empty `hosts`), and under `clusters` every
/// site's rows, each with its `site`.
net::http_response merge_queues(const std::vector<part_outcome>& parts);

}  // namespace ab::router
