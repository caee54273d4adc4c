#include "bmc/driver_factory.hpp"

#include <array>
#include <string_view>

#include "bmc/ipmi_driver.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/error.hpp"

namespace ab::bmc {

namespace {

/// Endpoint scheme → driver; whether the driver takes the endpoint without its scheme.
struct scheme_row {
  std::string_view prefix;
  std::string_view driver;
  bool strip;
};

constexpr std::array<scheme_row, 3> schemes{{
    {"https://", "redfish", false},
    {"http://", "redfish", false},
    {"ipmi://", "ipmi", true},
}};

}  // namespace

caf::expected<std::unique_ptr<driver>> make_driver(const std::string& name) {
  if (name == "redfish") return std::unique_ptr<driver>(new redfish_driver());
  if (name == "ipmi") return std::unique_ptr<driver>(new ipmi_driver());
  return make_error(errc::invalid_argument,
                    "unknown BMC driver '" + name + "' (known: redfish, ipmi)");
}

caf::expected<endpoint_route> route_of(const std::string& endpoint) {
  for (const auto& row : schemes)
    if (endpoint.compare(0, row.prefix.size(), row.prefix) == 0)
      return endpoint_route{std::string{row.driver},
                            row.strip ? endpoint.substr(row.prefix.size()) : endpoint};
  return make_error(errc::invalid_argument,
                    "no BMC driver serves the endpoint's scheme (expected https://, http:// or "
                    "ipmi://)");
}

std::shared_ptr<const driver_resolver> driver_resolver::standard(const wrapper& wrap,
                                                                 const redfish_options& redfish) {
  std::map<std::string, std::shared_ptr<driver>> drivers;
  for (const auto* name : {"redfish", "ipmi"}) {
    std::shared_ptr<driver> d = std::string_view{name} == "redfish"
                                    ? std::make_shared<redfish_driver>(redfish)
                                    : std::shared_ptr<driver>(std::move(*make_driver(name)));
    drivers[name] = wrap ? wrap(std::move(d)) : std::move(d);
  }
  return std::make_shared<const driver_resolver>(std::move(drivers));
}

driver_resolver::driver_resolver(std::map<std::string, std::shared_ptr<driver>> drivers)
    : drivers_(std::move(drivers)) {}

caf::expected<driver_resolver::resolved> driver_resolver::resolve(
    const std::string& endpoint) const {
  auto route = route_of(endpoint);
  if (!route) return std::move(route.error());
  auto it = drivers_.find(route->driver);
  if (it == drivers_.end() || !it->second)
    return make_error(errc::invalid_argument,
                      "this node has no " + route->driver + " driver for the endpoint");
  return resolved{it->second, std::move(route->address)};
}

caf::expected<capability_set> driver_resolver::capabilities_of(const std::string& endpoint) const {
  auto r = resolve(endpoint);
  if (!r) return std::move(r.error());
  return r->driver->capabilities();
}

}  // namespace ab::bmc
