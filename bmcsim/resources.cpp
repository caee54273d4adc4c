#include "bmcsim/resources.hpp"

#include <algorithm>
#include <ctime>

namespace ab::bmc::sim {

namespace {

using json = nlohmann::json;

std::string system_path(const std::string& base) {
  return base + "/Systems/" + system_id;
}
std::string manager_path(const std::string& base) {
  return base + "/Managers/" + manager_id;
}
std::string chassis_path(const std::string& base) {
  return base + "/Chassis/" + chassis_id;
}

json status_ok() {
  return {{"State", "Enabled"}, {"Health", "OK"}};
}

json boot_of(const bmc_state& b) {
  return {{"BootSourceOverrideTarget", b.boot_target},
          {"BootSourceOverrideTarget@Redfish.AllowableValues", boot_targets()},
          {"BootSourceOverrideEnabled", b.boot_enabled},
          {"BootSourceOverrideEnabled@Redfish.AllowableValues", boot_enabled_values()},
          {"BootSourceOverrideMode", b.boot_mode},
          {"BootSourceOverrideMode@Redfish.AllowableValues", boot_modes()}};
}

/// An ISO 8601 UTC timestamp for `t` ms since the epoch.
std::string timestamp(time_ms t) {
  auto secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

json redfish_error(const std::string& message_id, const std::string& message,
                   const std::vector<std::string>& args) {
  json info = {{"@odata.type", "#Message.v1_1_1.Message"},
               {"MessageId", "Base.1.8." + message_id},
               {"Message", message},
               {"MessageArgs", args},
               {"Severity", "Warning"}};
  return {{"error",
           {{"code", "Base.1.8.GeneralError"},
            {"message", "A general error has occurred. See ExtendedInfo for more information."},
            {"@Message.ExtendedInfo", json::array({info})}}}};
}

json link(const std::string& id) {
  return {{"@odata.id", id}};
}

json collection(const std::string& id, const std::string& type,
                const std::vector<std::string>& members) {
  auto list = json::array();
  for (const auto& m : members) list.push_back(link(m));
  return {{"@odata.id", id},
          {"@odata.type", "#" + type + "." + type},
          {"Name", type},
          {"Members@odata.count", members.size()},
          {"Members", list}};
}

json service_root(const std::string& base, const bmc_state& b) {
  return {{"@odata.id", base + "/"},
          {"@odata.type", "#ServiceRoot.v1_15_0.ServiceRoot"},
          {"Id", "RootService"},
          {"Name", "Root Service"},
          {"RedfishVersion", "1.15.0"},
          {"UUID", b.ident.uuid},
          {"Systems", link(base + "/Systems")},
          {"Chassis", link(base + "/Chassis")},
          {"Managers", link(base + "/Managers")},
          {"Tasks", link(base + "/TaskService")},
          {"SessionService", link(base + "/SessionService")},
          {"Links", {{"Sessions", link(base + "/SessionService/Sessions")}}}};
}

json computer_system(const std::string& base, const bmc_state& b) {
  auto self = system_path(base);
  return {{"@odata.id", self},
          {"@odata.type", "#ComputerSystem.v1_20_0.ComputerSystem"},
          {"Id", system_id},
          {"Name", "WebFrontEnd483"},
          {"SystemType", "Physical"},
          {"Manufacturer", "Contoso"},
          {"Model", "3500"},
          {"SerialNumber", b.ident.serial},
          {"UUID", b.ident.uuid},
          {"HostName", b.id},
          {"Status", status_ok()},
          {"PowerState", power_state(b)},
          {"Boot", boot_of(b)},
          {"BiosVersion", "P79 v1.45 (12/06/2017)"},
          {"ProcessorSummary",
           {{"Count", 2},
            {"Model", "Multi-Core Intel(R) Xeon(R) processor 7xxx Series"},
            {"CoreCount", 8},
            {"LogicalProcessorCount", 16},
            {"Status", status_ok()}}},
          {"MemorySummary", {{"TotalSystemMemoryGiB", 96}, {"Status", status_ok()}}},
          {"Processors", link(self + "/Processors")},
          {"EthernetInterfaces", link(self + "/EthernetInterfaces")},
          {"Storage", link(self + "/Storage")},
          // The CD sits under the Manager (as in public-localstorage); linked here too for clients
          // that look for it under the System (as in public-rackmount1).
          {"VirtualMedia", link(manager_path(base) + "/VirtualMedia")},
          {"Links",
           {{"Chassis", json::array({link(chassis_path(base))})},
            {"ManagedBy", json::array({link(manager_path(base))})}}},
          {"Actions",
           {{"#ComputerSystem.Reset",
             {{"target", self + "/Actions/ComputerSystem.Reset"},
              {"ResetType@Redfish.AllowableValues", reset_types()}}}}}};
}

json processor(const std::string& base, int n) {
  auto id = "CPU" + std::to_string(n);
  return {{"@odata.id", system_path(base) + "/Processors/" + id},
          {"@odata.type", "#Processor.v1_10_0.Processor"},
          {"Id", id},
          {"Name", "Processor"},
          {"Socket", "CPU " + std::to_string(n)},
          {"ProcessorType", "CPU"},
          {"ProcessorArchitecture", "x86"},
          {"InstructionSet", "x86-64"},
          {"Manufacturer", "Intel(R) Corporation"},
          {"Model", "Multi-Core Intel(R) Xeon(R) processor 7xxx Series"},
          {"MaxSpeedMHz", 3700},
          {"TotalCores", 8},
          {"TotalThreads", 16},
          {"Status", status_ok()}};
}

json ethernet_interface(const std::string& base, const bmc_state& b, int n) {
  auto id = "NIC" + std::to_string(n);
  auto mac = b.ident.mac(n - 1);
  return {{"@odata.id", system_path(base) + "/EthernetInterfaces/" + id},
          {"@odata.type", "#EthernetInterface.v1_6_0.EthernetInterface"},
          {"Id", id},
          {"Name", "Ethernet Interface"},
          {"Status", status_ok()},
          {"LinkStatus", "LinkUp"},
          {"SpeedMbps", 10000},
          {"MACAddress", mac},
          {"PermanentMACAddress", mac}};
}

json storage(const std::string& base) {
  auto self = system_path(base) + "/Storage/1";
  auto drives = json::array();
  for (int n = 0; n < drive_count; ++n)
    drives.push_back(link(self + "/Drives/Disk" + std::to_string(n)));
  return {{"@odata.id", self},
          {"@odata.type", "#Storage.v1_9_0.Storage"},
          {"Id", "1"},
          {"Name", "Local Storage Controller"},
          {"Status", status_ok()},
          {"Drives@odata.count", drive_count},
          {"Drives", drives}};
}

json drive(const std::string& base, const bmc_state& b, int n, time_ms now) {
  auto id = "Disk" + std::to_string(n);
  auto self = system_path(base) + "/Storage/1/Drives/" + id;
  bool erasing = std::any_of(b.tasks.begin(), b.tasks.end(),
                             [&](const erase_task& t) { return t.drive == id && now < t.end; });
  return {{"@odata.id", self},
          {"@odata.type", "#Drive.v1_9_0.Drive"},
          {"Id", id},
          {"Name", "Drive " + std::to_string(n)},
          {"Manufacturer", "Contoso"},
          {"Model", "3000GT8"},
          {"SerialNumber", b.ident.serial + "D" + std::to_string(n)},
          {"CapacityBytes", 899527000000LL},
          {"Protocol", "SAS"},
          {"MediaType", "HDD"},
          {"Status", {{"State", erasing ? "Updating" : "Enabled"}, {"Health", "OK"}}},
          {"Operations", erasing ? json::array({{{"OperationName", "Sanitize"}}}) : json::array()},
          {"Actions", {{"#Drive.SecureErase", {{"target", self + "/Actions/Drive.SecureErase"}}}}}};
}

json manager(const std::string& base, const bmc_state& b) {
  auto self = manager_path(base);
  return {{"@odata.id", self},
          {"@odata.type", "#Manager.v1_10_0.Manager"},
          {"Id", manager_id},
          {"Name", "Manager"},
          {"ManagerType", "BMC"},
          {"Model", "Joo Janta 200"},
          {"FirmwareVersion", "4.4.6521"},
          {"UUID", b.ident.uuid},
          {"Status", status_ok()},
          {"PowerState", "On"},
          {"VirtualMedia", link(self + "/VirtualMedia")},
          {"Links",
           {{"ManagerForServers", json::array({link(system_path(base))})},
            {"ManagerForChassis", json::array({link(chassis_path(base))})}}}};
}

json virtual_media(const std::string& base, const bmc_state& b) {
  auto self = manager_path(base) + "/VirtualMedia/" + media_id;
  return {
      {"@odata.id", self},
      {"@odata.type", "#VirtualMedia.v1_3_0.VirtualMedia"},
      {"Id", media_id},
      {"Name", "Virtual CD"},
      {"MediaTypes", json::array({"CD", "DVD"})},
      {"Image", b.media_inserted ? json(b.media_image) : json(nullptr)},
      {"Inserted", b.media_inserted},
      {"WriteProtected", true},
      {"ConnectedVia", b.media_inserted ? "URI" : "NotConnected"},
      {"Actions",
       {{"#VirtualMedia.InsertMedia", {{"target", self + "/Actions/VirtualMedia.InsertMedia"}}},
        {"#VirtualMedia.EjectMedia", {{"target", self + "/Actions/VirtualMedia.EjectMedia"}}}}}};
}

json chassis(const std::string& base, const bmc_state& b) {
  return {{"@odata.id", chassis_path(base)},
          {"@odata.type", "#Chassis.v1_14_0.Chassis"},
          {"Id", chassis_id},
          {"Name", "Computer System Chassis"},
          {"ChassisType", "RackMount"},
          {"Manufacturer", "Contoso"},
          {"Model", "3500RX"},
          {"SerialNumber", b.ident.serial},
          {"PowerState", power_state(b) == "On" ? "On" : "Off"},
          {"Status", status_ok()},
          {"Links",
           {{"ComputerSystems", json::array({link(system_path(base))})},
            {"ManagedBy", json::array({link(manager_path(base))})}}}};
}

json session_service(const std::string& base) {
  return {{"@odata.id", base + "/SessionService"},
          {"@odata.type", "#SessionService.v1_1_8.SessionService"},
          {"Id", "SessionService"},
          {"Name", "Session Service"},
          {"ServiceEnabled", true},
          {"SessionTimeout", 1800},
          {"Sessions", link(base + "/SessionService/Sessions")}};
}

json session(const std::string& base, const std::string& id, const std::string& user) {
  return {{"@odata.id", base + "/SessionService/Sessions/" + id},
          {"@odata.type", "#Session.v1_3_0.Session"},
          {"Id", id},
          {"Name", "User Session"},
          {"UserName", user}};
}

json task_service(const std::string& base) {
  return {{"@odata.id", base + "/TaskService"},
          {"@odata.type", "#TaskService.v1_1_5.TaskService"},
          {"Id", "TaskService"},
          {"Name", "Task Service"},
          {"ServiceEnabled", true},
          {"Tasks", link(base + "/TaskService/Tasks")}};
}

json task(const std::string& base, const erase_task& t, time_ms now) {
  auto self = base + "/TaskService/Tasks/" + std::to_string(t.id);
  bool done = now >= t.end;
  auto span = std::max<time_ms>(1, t.end - t.start);
  auto percent = done ? 100 : static_cast<int>(100 * (now - t.start) / span);
  json out = {{"@odata.id", self},
              {"@odata.type", "#Task.v1_4_3.Task"},
              {"Id", std::to_string(t.id)},
              {"Name", "Secure erase of " + t.drive},
              {"TaskState", done ? "Completed" : "Running"},
              {"TaskStatus", "OK"},
              {"PercentComplete", percent},
              {"StartTime", timestamp(t.start)},
              {"TaskMonitor", self + "/Monitor"}};
  if (done) out["EndTime"] = timestamp(t.end);
  return out;
}

}  // namespace ab::bmc::sim
