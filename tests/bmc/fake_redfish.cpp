#include "tests/bmc/fake_redfish.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/evp.h>

namespace ab::testing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(in.data()),
                           static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::map<std::string, json> load(const std::string& dir) {
  std::map<std::string, json> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename() != "index.json") continue;
    auto rel = fs::relative(e.path().parent_path(), dir).generic_string();
    std::ifstream in(e.path());
    out["/redfish/v1" + (rel == "." ? "" : "/" + rel)] = json::parse(in);
  }
  if (out.empty()) throw std::runtime_error("no mockup in " + dir);
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

json redfish_error(const std::string& message) {
  return {{"error",
           {{"code", "Base.1.0.GeneralError"},
            {"message", message},
            {"@Message.ExtendedInfo", json::array({{{"Message", message}}})}}}};
}

}  // namespace

fake_redfish::fake_redfish(fake_redfish_options options)
    : options_(std::move(options)), resources_(load(options_.mockup_dir)) {
  net::server_options so;
  so.port = 0;
  so.tls = options_.tls;
  so.read_timeout = std::chrono::seconds(5);
  auto s = net::http_server::start(so, [this](net::http_request&& req, net::responder r) {
    handle(std::move(req), std::move(r));
  });
  if (!s) throw std::runtime_error("fake_redfish cannot start");
  server_ = std::move(*s);
}

fake_redfish::~fake_redfish() {
  server_->stop();
  std::lock_guard<std::mutex> lock(mutex_);
  parked_.clear();
}

std::string fake_redfish::endpoint() const {
  return std::string(options_.tls.enabled() ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(server_->port()) + options_.prefix;
}

std::vector<recorded_request> fake_redfish::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

json fake_redfish::resource(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = resources_.find(path);
  return it == resources_.end() ? json() : it->second;
}

void fake_redfish::set_resource(const std::string& path, json body) {
  std::lock_guard<std::mutex> lock(mutex_);
  resources_[path] = std::move(body);
}

void fake_redfish::intercept(
    std::function<std::optional<net::http_response>(const net::http_request&)> f) {
  std::lock_guard<std::mutex> lock(mutex_);
  intercept_ = std::move(f);
}

void fake_redfish::hang() {
  std::lock_guard<std::mutex> lock(mutex_);
  hang_ = true;
}

void fake_redfish::expire_sessions() {
  std::lock_guard<std::mutex> lock(mutex_);
  tokens_.clear();
}

void fake_redfish::set_credentials(const std::string& user, const std::string& password) {
  std::lock_guard<std::mutex> lock(mutex_);
  options_.user = user;
  options_.password = password;
}

int fake_redfish::served() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return served_;
}

int fake_redfish::logins() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return logins_;
}

std::size_t fake_redfish::open_sessions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tokens_.size();
}

void fake_redfish::handle(net::http_request&& req, net::responder respond) {
  decltype(intercept_) f;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++served_;
    if (hang_) {
      parked_.push_back(std::move(respond));
      return;
    }
    f = intercept_;
  }
  if (f) {
    if (auto r = f(req)) {
      respond(std::move(*r));
      return;
    }
  }
  auto path = req.target.substr(0, req.target.find('?'));
  if (path.rfind(options_.prefix, 0) != 0) {
    respond(json_response(404, redfish_error("outside the prefix")));
    return;
  }
  path = path.substr(options_.prefix.size());
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::lock_guard<std::mutex> lock(mutex_);
  if (req.method != "GET") requests_.push_back({req.method, path, req.body, req.headers});
  respond(answer(req.method, path, req));
}

bool fake_redfish::authorized(const net::http_request& req) const {
  auto token = req.headers.find("x-auth-token");
  if (token != req.headers.end())
    return std::find(tokens_.begin(), tokens_.end(), token->second) != tokens_.end();
  auto basic = req.headers.find("authorization");
  return basic != req.headers.end() &&
         basic->second == "Basic " + base64(options_.user + ":" + options_.password);
}

net::http_response fake_redfish::json_response(int status, const json& body) const {
  auto text = body.is_null() ? std::string() : body.dump();
  // Every link carries the prefix, as a BMC behind a path-routing proxy would answer.
  for (size_t at = 0; (at = text.find("\"/redfish/v1", at)) != std::string::npos;) {
    text.insert(at + 1, options_.prefix);
    at += options_.prefix.size() + 12;
  }
  return {status, "application/json", text, {}};
}

net::http_response fake_redfish::answer(const std::string& method, const std::string& path,
                                        const net::http_request& req) {
  const std::string sessions = "/redfish/v1/SessionService/Sessions";
  if (method == "POST" && path == sessions) {
    if (!options_.sessions) return json_response(405, redfish_error("sessions are disabled"));
    auto creds = json::parse(req.body, nullptr, false);
    if (!creds.is_object() || creds.value("UserName", "") != options_.user ||
        creds.value("Password", "") != options_.password)
      return json_response(401, redfish_error("bad credentials"));
    auto id = std::to_string(++counter_);
    ++logins_;
    tokens_.push_back("token-" + id);
    auto r = json_response(201, {{"Id", id}});
    r.headers = {{"X-Auth-Token", tokens_.back()},
                 {"Location", options_.prefix + sessions + "/" + id}};
    return r;
  }
  if ((path != "/redfish/v1" || !options_.public_root) && !authorized(req))
    return json_response(401, redfish_error("authentication required"));
  if (method == "DELETE" && path.rfind(sessions + "/", 0) == 0) {
    auto token = req.headers.find("x-auth-token");
    if (token != req.headers.end()) std::erase(tokens_, token->second);
    return {204, "", "", {}};
  }
  if (method == "POST") {
    auto body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    return post(path, body);
  }
  auto it = resources_.find(path);
  if (it == resources_.end()) return json_response(404, redfish_error("no resource " + path));
  if (method == "PATCH") {
    auto patch = json::parse(req.body, nullptr, false);
    if (patch.is_discarded()) return json_response(400, redfish_error("malformed JSON"));
    it->second.merge_patch(patch);
    return json_response(200, it->second);
  }
  auto polls = task_polls_left_.find(path);
  if (polls != task_polls_left_.end() && polls->second > 0) {
    --polls->second;
    return json_response(202, it->second);
  }
  if (polls != task_polls_left_.end()) it->second["TaskState"] = options_.task_outcome;
  return json_response(200, it->second);
}

net::http_response fake_redfish::post(const std::string& path, const json& body) {
  auto owner = path.substr(0, path.find("/Actions/"));
  auto it = resources_.find(owner);
  if (it == resources_.end() || body.is_discarded())
    return json_response(404, redfish_error("no action " + path));
  if (ends_with(path, "/ComputerSystem.Reset")) {
    auto type = body.value("ResetType", "");
    it->second["PowerState"] = type == "ForceOff" || type == "GracefulShutdown" ? "Off" : "On";
  } else if (ends_with(path, "/VirtualMedia.InsertMedia")) {
    it->second["Image"] = body.value("Image", "");
    it->second["Inserted"] = true;
  } else if (ends_with(path, "/VirtualMedia.EjectMedia")) {
    it->second["Image"] = nullptr;
    it->second["Inserted"] = false;
  } else if (ends_with(path, "/Drive.SecureErase")) {
    auto task = "/redfish/v1/TaskService/Tasks/erase" + std::to_string(++counter_);
    resources_[task] = {{"Id", "erase"}, {"TaskState", "Running"}, {"@odata.id", task}};
    task_polls_left_[task] = options_.task_polls;
    auto r = json_response(202, resources_[task]);
    r.headers = {{"Location", options_.prefix + task}};
    return r;
  } else {
    return json_response(400, redfish_error("unknown action " + path));
  }
  return {204, "", "", {}};
}

}  // namespace ab::testing
