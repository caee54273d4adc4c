#include "net/api/error.hpp"

#include <nlohmann/json.hpp>

#include <caf/atom.hpp>
#include <caf/message.hpp>

#include "core/error.hpp"

namespace ab::net {

caf::error make_error(api_errc code, std::string what) {
  return caf::error{static_cast<std::uint8_t>(code), caf::atom("api"),
                    caf::make_message(std::move(what))};
}

namespace {

/// The answer to an error of category `api`.
api_error api_category(const caf::error& err) {
  auto what = err.context().match_elements<std::string>() ? err.context().get_as<std::string>(0)
                                                          : to_string(err);
  switch (static_cast<api_errc>(err.code())) {
    case api_errc::unknown_host:
      return {422, "unknown_host", what, 0};
    case api_errc::invalid_state:
      return {409, "invalid_state", what, 0};
    case api_errc::name_taken:
      return {409, "name_taken", what, 0};
    case api_errc::idempotency_conflict:
      return {409, "idempotency_conflict", what, 0};
    case api_errc::action_not_served:
      return {422, "action_not_served", what, 0};
    case api_errc::invalid_host:
      return {422, "invalid_host", what, 0};
    case api_errc::invalid_cluster_map:
      return {422, "invalid_cluster_map", what, 0};
    case api_errc::unknown_cluster:
      return {422, "unknown_cluster", what, 0};
    case api_errc::confirmation_required:
      return {422, "confirmation_required", what, 0};
    case api_errc::quota_exceeded:
      return {403, "quota_exceeded", what, 0};
    case api_errc::invalid_wave:
      return {422, "invalid_wave", what, 0};
    default:
      return {500, "internal", what, 0};
  }
}

}  // namespace

api_error to_api_error(const caf::error& err) {
  if (err && err.category() == caf::atom("api")) return api_category(err);
  auto what = message_of(err);
  // Drop the "code: " prefix of message_of: the code travels in its own field.
  if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  if (!err || err.category() != caf::atom("ab")) return {500, "internal", what, 0};
  switch (static_cast<errc>(err.code())) {
    case errc::invalid_argument:
      return {400, "invalid_argument", what, 0};
    case errc::not_found:
      return {404, "not_found", what, 0};
    case errc::conflict:
      return {409, "conflict", what, 0};
    case errc::endpoint_taken:
      return {409, "bmc_endpoint_taken", what, 0};
    case errc::invalid_state:
      return {409, "invalid_state", what, 0};
    case errc::unsupported_by_bmc:
      return {422, "unsupported_by_bmc", what, 0};
    case errc::host_busy:
      return {409, "host_busy", what, 0};
    case errc::host_held:
      return {409, "host_held", what, 0};
    case errc::lease_lost:
      return {409, "lease_lost", what, 0};
    case errc::store_unavailable:
      return {503, "store_unavailable", what, 5};
    case errc::unauthenticated:
      return {401, "unauthenticated", what, 0};
    case errc::forbidden:
      return {403, "forbidden", what, 0};
    case errc::unavailable:
      return {503, "unavailable", what, 5};
    case errc::schema_too_new:
      return {503, "schema_too_new", what, 0};
    default:
      return {500, "internal", what, 0};
  }
}

http_response error_response(const api_error& e) {
  // A message may quote the caller's input: invalid UTF-8 in it must not turn the answer
  // into a 500.
  auto body = nlohmann::json{{"error", {{"code", e.code}, {"message", e.message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto r = json_response(e.status, std::move(body));
  if (e.retry_after > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after));
  return r;
}

http_response json_response(int status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace ab::net
