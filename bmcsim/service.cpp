#include "bmcsim/service.hpp"

#include <algorithm>
#include <optional>

#include <boost/beast/core/detail/base64.hpp>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "bmcsim/resources.hpp"

namespace ab::bmc::sim {

namespace {

using json = nlohmann::json;
using net::http_response;
using segments = std::vector<std::string>;
using maybe_response = std::optional<http_response>;

segments split(const std::string& path) {
  segments out;
  for (std::size_t start = 0; start < path.size();) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

http_response ok(const json& body) {
  return json_response(200, body.dump());
}

http_response no_content() {
  return {204, "", "", {}};
}

http_response not_allowed(const net::http_request& req) {
  return error_response(405, "OperationNotAllowed",
                        "The method " + req.method + " is not allowed on this resource.");
}

/// The request body as a JSON object, or a 400 response.
std::optional<json> body_of(const net::http_request& req, http_response& error) {
  auto j = json::parse(req.body.empty() ? std::string{"{}"} : req.body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) return j;
  error = error_response(400, "MalformedJSON", "The request body is not a JSON object.");
  return std::nullopt;
}

std::string basic_of(const std::string& user, const std::string& password) {
  namespace b64 = boost::beast::detail::base64;
  auto plain = user + ":" + password;
  std::string out(b64::encoded_size(plain.size()), '\0');
  out.resize(b64::encode(out.data(), plain.data(), plain.size()));
  return "Basic " + out;
}

bool authorized(const bmc_state& b, const net::http_request& req, const service_context& ctx) {
  if (ctx.auth_fail) return false;
  if (auto t = req.headers.find("x-auth-token"); t != req.headers.end())
    return std::any_of(b.sessions.begin(), b.sessions.end(), [&](const auto& s) {
      return auth::constant_time_equal(s.second, t->second);
    });
  auto a = req.headers.find("authorization");
  return a != req.headers.end() &&
         auth::constant_time_equal(a->second, basic_of(ctx.user, ctx.password));
}

/// Checks `value` of property `name` against `allowed`; a 400 naming the value otherwise.
std::optional<http_response> check_allowed(const json& value, const std::string& name,
                                           const std::vector<std::string>& allowed) {
  if (value.is_string() &&
      std::find(allowed.begin(), allowed.end(), value.get<std::string>()) != allowed.end())
    return std::nullopt;
  auto shown = value.is_string() ? value.get<std::string>() : value.dump();
  return error_response(400, "PropertyValueNotInList",
                        "The value " + shown + " for the property " + name +
                            " is not in the list of acceptable values.",
                        {shown, name});
}

http_response patch_boot(bmc_state& b, const std::string& base, const json& body,
                         const service_context& ctx) {
  for (const auto& [key, value] : body.items())
    if (key != "Boot")
      return error_response(400, "PropertyNotWritable",
                            "The property " + key + " is a read only property.", {key});
  if (!body.contains("Boot") || !body["Boot"].is_object())
    return error_response(400, "PropertyMissing", "The property Boot is required.", {"Boot"});
  const std::vector<std::pair<std::string, const std::vector<std::string>*>> props{
      {"BootSourceOverrideTarget", &boot_targets()},
      {"BootSourceOverrideEnabled", &boot_enabled_values()},
      {"BootSourceOverrideMode", &boot_modes()}};
  // Validate everything before changing anything.
  for (const auto& item : body["Boot"].items()) {
    const auto& key = item.key();
    const auto& value = item.value();
    auto p =
        std::find_if(props.begin(), props.end(), [&](const auto& x) { return x.first == key; });
    if (p == props.end())
      return error_response(400, "PropertyUnknown", "The property " + key + " is not known.",
                            {key});
    if (auto bad = check_allowed(value, key, *p->second)) return *bad;
  }
  const auto& boot = body["Boot"];
  b.boot_target = boot.value("BootSourceOverrideTarget", b.boot_target);
  b.boot_enabled = boot.value("BootSourceOverrideEnabled", b.boot_enabled);
  b.boot_mode = boot.value("BootSourceOverrideMode", b.boot_mode);
  record_action(b, ctx.now, "boot", b.boot_target + "/" + b.boot_enabled, ctx.job);
  return ok(computer_system(base, b));
}

http_response reset_action(bmc_state& b, const json& body, const service_context& ctx) {
  if (!body.contains("ResetType"))
    return error_response(400, "ActionParameterMissing",
                          "The action ComputerSystem.Reset requires the parameter ResetType.",
                          {"ComputerSystem.Reset", "ResetType"});
  if (auto bad = check_allowed(body["ResetType"], "ResetType", reset_types())) return *bad;
  auto type = body["ResetType"].get<std::string>();
  reset(b, type, ctx.now, ctx.reset_delay());
  record_action(b, ctx.now, "power", type, ctx.job);
  return no_content();
}

maybe_response serve_system(bmc_state& b, const std::string& base, const segments& s,
                            const net::http_request& req, const service_context& ctx) {
  if (s.size() == 1)
    return ok(collection(base + "/Systems", "ComputerSystemCollection",
                         {base + "/Systems/" + system_id}));
  if (s[1] != system_id) return std::nullopt;
  auto self = base + "/Systems/" + system_id;
  http_response error;
  if (s.size() == 2) {
    if (req.method == "GET") return ok(computer_system(base, b));
    if (req.method != "PATCH") return not_allowed(req);
    auto body = body_of(req, error);
    return body ? patch_boot(b, base, *body, ctx) : error;
  }
  if (s.size() == 4 && s[2] == "Actions" && s[3] == "ComputerSystem.Reset") {
    if (req.method != "POST") return not_allowed(req);
    auto body = body_of(req, error);
    return body ? reset_action(b, *body, ctx) : error;
  }
  if (s[2] == "Processors") {
    if (s.size() == 3)
      return ok(collection(self + "/Processors", "ProcessorCollection",
                           {self + "/Processors/CPU1", self + "/Processors/CPU2"}));
    if (s.size() == 4 && (s[3] == "CPU1" || s[3] == "CPU2"))
      return ok(processor(base, s[3][3] - '0'));
  }
  if (s[2] == "EthernetInterfaces") {
    if (s.size() == 3)
      return ok(collection(self + "/EthernetInterfaces", "EthernetInterfaceCollection",
                           {self + "/EthernetInterfaces/NIC1", self + "/EthernetInterfaces/NIC2"}));
    if (s.size() == 4 && (s[3] == "NIC1" || s[3] == "NIC2"))
      return ok(ethernet_interface(base, b, s[3][3] - '0'));
  }
  return std::nullopt;
}

/// The drive number of `name` (`Disk<n>`), or -1.
int drive_number(const std::string& name) {
  for (int n = 0; n < drive_count; ++n)
    if (name == "Disk" + std::to_string(n)) return n;
  return -1;
}

http_response secure_erase(bmc_state& b, const std::string& base, const std::string& drive,
                           const service_context& ctx) {
  erase_task t{b.next_task++, drive, ctx.now, ctx.now + ctx.erase_ms};
  b.tasks.push_back(t);
  record_action(b, ctx.now, "erase", drive, ctx.job);
  auto r = json_response(202, task(base, t, ctx.now).dump());
  r.headers.emplace_back("Location",
                         base + "/TaskService/Tasks/" + std::to_string(t.id) + "/Monitor");
  return r;
}

maybe_response serve_storage(bmc_state& b, const std::string& base, const segments& s,
                             const net::http_request& req, const service_context& ctx) {
  // s: Systems, <id>, Storage, ...
  auto self = base + "/Systems/" + system_id + "/Storage";
  if (s.size() == 3) return ok(collection(self, "StorageCollection", {self + "/1"}));
  if (s[3] != "1") return std::nullopt;
  if (s.size() == 4) return ok(storage(base));
  if (s[4] != "Drives" || s.size() < 6) return std::nullopt;
  int n = drive_number(s[5]);
  if (n < 0) return std::nullopt;
  if (s.size() == 6) return ok(drive(base, b, n, ctx.now));
  if (s.size() == 8 && s[6] == "Actions" && s[7] == "Drive.SecureErase") {
    if (req.method != "POST") return not_allowed(req);
    return secure_erase(b, base, s[5], ctx);
  }
  return std::nullopt;
}

http_response insert_media(bmc_state& b, const json& body, const service_context& ctx) {
  if (!body.contains("Image") || !body["Image"].is_string())
    return error_response(400, "ActionParameterMissing",
                          "The action VirtualMedia.InsertMedia requires the parameter Image.",
                          {"VirtualMedia.InsertMedia", "Image"});
  b.media_image = body["Image"].get<std::string>();
  b.media_inserted = body.value("Inserted", true);
  // The image without its query: the installer's callback token stays out of the record.
  record_action(b, ctx.now, b.media_inserted ? "media_insert" : "media_eject",
                b.media_image.substr(0, b.media_image.find('?')), ctx.job);
  return no_content();
}

void eject_media(bmc_state& b, const service_context& ctx) {
  b.media_inserted = false;
  b.media_image.clear();
  record_action(b, ctx.now, "media_eject", "", ctx.job);
}

maybe_response serve_media(bmc_state& b, const std::string& base, const segments& s,
                           const net::http_request& req, const service_context& ctx) {
  // s: Managers, BMC, VirtualMedia, ...
  auto self = base + "/Managers/" + manager_id + "/VirtualMedia";
  if (s.size() == 3) return ok(collection(self, "VirtualMediaCollection", {self + "/" + media_id}));
  if (s[3] != media_id) return std::nullopt;
  http_response error;
  if (s.size() == 4) {
    if (req.method == "GET") return ok(virtual_media(base, b));
    if (req.method != "PATCH") return not_allowed(req);
    auto body = body_of(req, error);
    if (!body) return error;
    if (body->contains("Image")) {
      auto r = insert_media(b, *body, ctx);
      if (r.status != 204) return r;
    } else if (body->contains("Inserted") && !body->value("Inserted", true)) {
      eject_media(b, ctx);
    }
    return ok(virtual_media(base, b));
  }
  if (s.size() != 6 || s[4] != "Actions") return std::nullopt;
  if (s[5] != "VirtualMedia.InsertMedia" && s[5] != "VirtualMedia.EjectMedia") return std::nullopt;
  if (req.method != "POST") return not_allowed(req);
  if (s[5] == "VirtualMedia.EjectMedia") {
    eject_media(b, ctx);
    return no_content();
  }
  auto body = body_of(req, error);
  return body ? insert_media(b, *body, ctx) : error;
}

maybe_response serve_manager(bmc_state& b, const std::string& base, const segments& s,
                             const net::http_request& req, const service_context& ctx) {
  if (s.size() == 1)
    return ok(
        collection(base + "/Managers", "ManagerCollection", {base + "/Managers/" + manager_id}));
  if (s[1] != manager_id) return std::nullopt;
  if (s.size() == 2) return ok(manager(base, b));
  if (s[2] == "VirtualMedia") return serve_media(b, base, s, req, ctx);
  return std::nullopt;
}

http_response create_session(bmc_state& b, const std::string& base, const net::http_request& req,
                             const service_context& ctx) {
  auto j = json::parse(req.body, nullptr, false);
  bool good = !ctx.auth_fail && j.is_object() && j.value("UserName", "") == ctx.user &&
              j.value("Password", "") == ctx.password;
  if (!good)
    return error_response(401, "NoValidSession",
                          "There is no valid session established with the implementation.");
  auto id = std::to_string(b.next_session++);
  auto token = auth::random_token(16);
  b.sessions[id] = token;
  ++b.logins;
  auto r = json_response(201, session(base, id, ctx.user).dump());
  r.headers.emplace_back("X-Auth-Token", token);
  r.headers.emplace_back("Location", base + "/SessionService/Sessions/" + id);
  return r;
}

maybe_response serve_sessions(bmc_state& b, const std::string& base, const segments& s,
                              const net::http_request& req, const service_context& ctx) {
  if (s.size() == 1) return ok(session_service(base));
  if (s[1] != "Sessions" || s.size() > 3) return std::nullopt;
  auto self = base + "/SessionService/Sessions";
  if (s.size() == 2) {
    if (req.method != "GET") return not_allowed(req);
    segments members;
    for (const auto& [id, token] : b.sessions) members.push_back(self + "/" + id);
    return ok(collection(self, "SessionCollection", members));
  }
  if (!b.sessions.contains(s[2])) return std::nullopt;
  if (req.method == "GET") return ok(session(base, s[2], ctx.user));
  if (req.method != "DELETE") return not_allowed(req);
  b.sessions.erase(s[2]);
  ++b.logouts;
  return no_content();
}

maybe_response serve_tasks(const bmc_state& b, const std::string& base, const segments& s,
                           const service_context& ctx) {
  if (s.size() == 1) return ok(task_service(base));
  auto self = base + "/TaskService/Tasks";
  if (s[1] != "Tasks" || s.size() > 4) return std::nullopt;
  if (s.size() == 2) {
    segments members;
    for (const auto& t : b.tasks) members.push_back(self + "/" + std::to_string(t.id));
    return ok(collection(self, "TaskCollection", members));
  }
  auto t = std::find_if(b.tasks.begin(), b.tasks.end(),
                        [&](const erase_task& x) { return std::to_string(x.id) == s[2]; });
  if (t == b.tasks.end()) return std::nullopt;
  if (s.size() == 3) return ok(task(base, *t, ctx.now));
  if (s[3] != "Monitor") return std::nullopt;
  // A task monitor answers 202 until the task is done.
  return json_response(ctx.now >= t->end ? 200 : 202, task(base, *t, ctx.now).dump());
}

maybe_response route(bmc_state& b, const std::string& base, const segments& s,
                     const net::http_request& req, const service_context& ctx) {
  const auto& top = s[0];
  if (top == "Systems") {
    if (s.size() >= 3 && s[1] == system_id && s[2] == "Storage")
      return serve_storage(b, base, s, req, ctx);
    return serve_system(b, base, s, req, ctx);
  }
  if (top == "Managers") return serve_manager(b, base, s, req, ctx);
  if (top == "SessionService") return serve_sessions(b, base, s, req, ctx);
  if (top == "TaskService") return serve_tasks(b, base, s, ctx);
  if (top == "Chassis") {
    if (s.size() == 1)
      return ok(
          collection(base + "/Chassis", "ChassisCollection", {base + "/Chassis/" + chassis_id}));
    if (s.size() == 2 && s[1] == chassis_id) return ok(chassis(base, b));
  }
  return std::nullopt;
}

}  // namespace

net::http_response json_response(int status, const std::string& body) {
  http_response r;
  r.status = status;
  r.body = body;
  r.headers.emplace_back("OData-Version", "4.0");
  return r;
}

net::http_response error_response(int status, const std::string& message_id,
                                  const std::string& message,
                                  const std::vector<std::string>& args) {
  return json_response(status, redfish_error(message_id, message, args).dump());
}

net::http_response serve_redfish(bmc_state& b, const std::string& base, const std::string& rest,
                                 const net::http_request& req, const service_context& ctx) {
  auto s = split(rest);
  if (s.empty()) return req.method == "GET" ? ok(service_root(base, b)) : not_allowed(req);
  bool login =
      req.method == "POST" && s.size() == 2 && s[0] == "SessionService" && s[1] == "Sessions";
  if (login) return create_session(b, base, req, ctx);
  if (!authorized(b, req, ctx)) {
    auto r = error_response(401, "NoValidSession",
                            "There is no valid session established with the implementation.");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"bmcsim\"");
    return r;
  }
  if (auto r = route(b, base, s, req, ctx)) {
    // Writes answer 201, 202 or 204, or 200 only to PATCH; a 200 to anything else means the
    // resource is read-only.
    bool read_only =
        r->status == 200 && req.method != "GET" && req.method != "HEAD" && req.method != "PATCH";
    return read_only ? not_allowed(req) : *r;
  }
  return error_response(404, "ResourceNotFound",
                        "The requested resource of type Resource named " + rest + " was not found.",
                        {"Resource", rest});
}

}  // namespace ab::bmc::sim
