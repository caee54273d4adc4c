#include "bmc/driver_factory.hpp"

#include "bmc/ipmi_driver.hpp"
#include "bmc/redfish_driver.hpp"
#include "core/error.hpp"

namespace ab::bmc {

caf::expected<std::unique_ptr<driver>> make_driver(const std::string& name) {
  if (name == "redfish") return std::unique_ptr<driver>(new redfish_driver());
  if (name == "ipmi") return std::unique_ptr<driver>(new ipmi_driver());
  return make_error(errc::invalid_argument,
                    "unknown BMC driver '" + name + "' (known: redfish, ipmi)");
}

}  // namespace ab::bmc
