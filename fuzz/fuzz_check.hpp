#pragma once

// Invariant checks shared by the fuzz targets: a broken invariant aborts, which libFuzzer
// reports as a crash together with the input that broke it.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "net/api/error.hpp"

namespace ab::fuzz {

/// Aborts with `what` on stderr when `ok` is false.
inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

/// True if `s` is valid UTF-8, so that a JSON document can carry it unchanged.
inline bool json_encodable(const std::string& s) {
  try {
    return !nlohmann::json(s).dump().empty();
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

/// Checks an error a parser returned: a 4xx without Retry-After, one of `codes`, and a
/// non-empty message that the JSON error body can carry.
inline void require_client_error(const net::api_error& e,
                                 std::initializer_list<std::string_view> codes) {
  require(e.status >= 400 && e.status < 500, "an input error has a 4xx status");
  require(e.retry_after == 0, "an input error asks for no retry");
  require(std::find(codes.begin(), codes.end(), e.code) != codes.end(),
          "an input error has one of the parser's codes");
  require(!e.message.empty(), "an input error has a message");
  require(json_encodable(e.message), "an input error's message is valid UTF-8");
}

}  // namespace ab::fuzz
