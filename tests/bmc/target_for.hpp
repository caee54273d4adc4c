#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "bmc/driver.hpp"

namespace ab::bmc {

/// A target for `endpoint` with `user` and `password`, the other fields at their defaults.
inline target target_for(std::string endpoint, std::string user, std::string password,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  target t;
  t.endpoint = std::move(endpoint);
  t.user = std::move(user);
  t.password = std::move(password);
  t.timeout = timeout;
  return t;
}

}  // namespace ab::bmc
