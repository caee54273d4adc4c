#pragma once

// The API's answers as `abctl` reads them: parsed strictly (every field it uses has the type
// and the values the API documents; fields it does not know are ignored, so a newer server
// still works), or refused with a sentence naming what is wrong.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

namespace ab::abctl {

/// One job of a request.
struct job_info {
  std::int64_t position = 0;
  std::string type, state, error;
  std::int64_t attempts = 0, max_attempts = 0;
};

/// A request (`GET /v1/requests/{id}`, or an item of a list without jobs).
struct request_info {
  std::int64_t id = 0;
  std::string action, host, site, priority, submitter, state, error, waiting_for;
  std::int64_t created_at = 0, started_at = 0, finished_at = 0;
  std::vector<job_info> jobs;
  /// When the node estimates it will be done, and the range (`eta`; 0: no estimate), and the
  /// steps done of its chain (`progress`; total 0: not given).
  std::int64_t eta_at = 0, eta_earliest = 0, eta_latest = 0;
  std::string eta_basis;
  std::int64_t steps_done = 0, steps_total = 0;
};

/// The estimate of `r` in words at `now_ms`: `in 3m20s (2m50s-4m10s)`; empty without one.
std::string eta_text(const request_info& r, std::int64_t now_ms);

/// True for `succeeded`, `failed` and `cancelled`.
bool terminal(const std::string& request_state);

/// Reads a request object.
caf::expected<request_info> parse_request(const nlohmann::json& j);

/// One page of `GET /v1/requests`.
struct request_page_info {
  std::vector<request_info> requests;
  /// The `cursor` of the next page; empty on the last one.
  std::string next_cursor;
};

caf::expected<request_page_info> parse_request_page(const nlohmann::json& j);

/// One host's outcome of a submission.
struct outcome_info {
  std::string host;
  std::int64_t id = 0;
  /// `accepted` or `refused`.
  std::string status;
  std::string error_code, error_message;
};

/// Reads the `202` answer of `POST /v1/requests`: one outcome per host.
caf::expected<std::vector<outcome_info>> parse_outcomes(const nlohmann::json& j);

/// A host of the inventory.
struct host_info {
  std::string name, site, bmc_endpoint, credential_ref, lifecycle_state;
  nlohmann::json facts = nlohmann::json::object();
  std::int64_t created_at = 0, updated_at = 0;
};

caf::expected<host_info> parse_host(const nlohmann::json& j);

/// One page of `GET /v1/hosts`.
struct host_page_info {
  std::vector<host_info> hosts;
  /// The `after` of the next page; empty on the last one.
  std::string next_after;
};

caf::expected<host_page_info> parse_host_page(const nlohmann::json& j);

/// The site's cluster map document (`GET /v1/cluster-map`, `POST /v1/cluster-map/moves`).
struct cluster_map_info {
  std::int64_t version = 0;
  /// The map: `clusters`, `nodes`, `default_cluster`, as in a cluster-map file.
  nlohmann::json map;
  std::int64_t changed_at_ms = 0;
  std::string changed_by;
};

caf::expected<cluster_map_info> parse_cluster_map(const nlohmann::json& j);

/// One node of the routers' table (`GET /v1/cluster`).
struct node_info {
  std::string node_id, site, cluster, api_url, health;
  std::optional<double> load;
  std::optional<std::int64_t> heartbeat_age_ms;
};

/// Every node of a `GET /v1/cluster` answer: objects with a `node_id` wherever they are
/// nested, taking `site` and `cluster` from the objects (or the keys) that hold them.
caf::expected<std::vector<node_info>> parse_cluster_nodes(const nlohmann::json& j);

/// An API error body, `{"error": {"code", "message"}}`.
struct error_info {
  std::string code, message;
};

/// The error of an answer's body; nullopt when the body is not one.
std::optional<error_info> parse_error(const std::string& body);

/// `body` parsed as JSON; an `errc::invalid_argument` error when it is not.
caf::expected<nlohmann::json> parse_body(const std::string& body);

}  // namespace ab::abctl
