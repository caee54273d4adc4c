#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/http_server.hpp"
#include "net/work_pool.hpp"
#include "storage/store.hpp"

namespace ab::net {

/// What the REST API needs to know beyond the store.
struct api_options {
  /// Actions a request may ask for, and the job chain of each.
  std::function<std::vector<storage::job_spec>(const std::string& action)> chain_of;
  std::vector<std::string> actions;
  /// Priority classes a request may name.
  std::vector<std::string> classes{"maas", "user", "organic"};
  /// Threads that make store calls for the API, and the most calls waiting or running at
  /// once before the node answers 429.
  std::size_t threads = 4;
  std::size_t max_in_flight = 256;
  /// Answers `GET /v1/node` (supplied by the node, which knows its actors).
  std::function<void(responder)> node_info;
};

/// The REST API of a node, versioned under /v1: requests, hosts, health. Store calls run on a
/// bounded work pool, never on the HTTP I/O threads; a full pool answers 429 with Retry-After,
/// an unreachable store 503 with Retry-After.
class api_service {
 public:
  api_service(std::shared_ptr<storage::store> store, api_options options);

  /// The HTTP handler: routes, validates and answers one request.
  void handle(http_request&& req, responder respond);

  /// Every route as "METHOD /path/{param}", as the OpenAPI document lists them.
  static std::vector<std::string> routes();

 private:
  /// Runs `work` on the pool and sends its response; 429 at once when the pool is full.
  void offload(const responder& respond, std::function<http_response()> work);
  http_response submit(const http_request& req);

  std::shared_ptr<storage::store> store_;
  api_options options_;
  work_pool pool_;
};

/// A stable 64-bit FNV-1a digest of `text`, as hex: the fingerprint of an idempotent body.
std::string fingerprint(const std::string& text);

}  // namespace ab::net
