#include "core/error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>

namespace ab {

std::string to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::host_busy:
      return "host_busy";
    case errc::lease_lost:
      return "lease_lost";
    case errc::store_unavailable:
      return "store_unavailable";
    case errc::store_failure:
      return "store_failure";
    case errc::schema_too_new:
      return "schema_too_new";
    case errc::bad_config:
      return "bad_config";
    case errc::crashed:
      return "crashed";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::forbidden:
      return "forbidden";
    case errc::unavailable:
      return "unavailable";
    case errc::endpoint_taken:
      return "endpoint_taken";
    case errc::invalid_state:
      return "invalid_state";
    case errc::unsupported_by_bmc:
      return "unsupported_by_bmc";
    case errc::host_held:
      return "host_held";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string what) {
  return caf::error{static_cast<std::uint8_t>(code), caf::atom("ab"),
                    caf::make_message(std::move(what))};
}

std::string message_of(const caf::error& err) {
  // CAF 0.17 crashes on category() of an empty error.
  if (!err) return "none";
  if (err.category() == caf::atom("ab") && err.context().match_elements<std::string>())
    return to_string(static_cast<errc>(err.code())) + ": " + err.context().get_as<std::string>(0);
  return to_string(err);
}

bool is(const caf::error& err, errc code) {
  return err && err.category() == caf::atom("ab") && err.code() == static_cast<std::uint8_t>(code);
}

}  // namespace ab
