#include "harness/prometheus_server.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <curl/curl.h>

#include "harness/child_process.hpp"

namespace ab::harness {

namespace {

using json = nlohmann::json;

/// Prometheus's duration syntax for `d` ("1500ms").
std::string duration(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// `GET url` with a 10 s bound; the status (0: no answer) and the body in `body`.
long http_get(const std::string& url, std::string& body) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), curl_easy_cleanup};
  if (!curl) return 0;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(curl.get()) != CURLE_OK) return 0;
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return status;
}

/// `text` percent-encoded for a query string.
std::string escaped(const std::string& text) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), curl_easy_cleanup};
  std::unique_ptr<char, decltype(&curl_free)> out{
      curl_easy_escape(curl.get(), text.data(), static_cast<int>(text.size())), curl_free};
  return out ? std::string{out.get()} : std::string{};
}

}  // namespace

std::string prometheus_binary() {
  const char* env = std::getenv("AB_PROMETHEUS");
  return env && *env ? env : "/usr/bin/prometheus";
}

std::string promtool_binary() {
  const char* env = std::getenv("AB_PROMTOOL");
  return env && *env ? env : "/usr/bin/promtool";
}

std::string prometheus_config(const std::vector<scrape_job>& jobs,
                              std::chrono::milliseconds interval,
                              const std::vector<std::string>& rule_files) {
  // JSON is YAML: every value is quoted by the serialiser, whatever the caller passes.
  json scrapes = json::array();
  for (const auto& job : jobs) {
    json labels = json::object();
    for (const auto& [k, v] : job.labels) labels[k] = v;
    json target_group = {{"targets", job.targets}};
    if (!labels.empty()) target_group["labels"] = labels;
    json s = {{"job_name", job.name},
              {"metrics_path", "/metrics"},
              {"scrape_interval", duration(interval)},
              {"scrape_timeout", duration(interval)},
              {"static_configs", json::array({target_group})}};
    if (!job.token_file.empty())
      s["authorization"] = {{"type", "Bearer"}, {"credentials_file", job.token_file}};
    scrapes.push_back(std::move(s));
  }
  json config = {
      {"global",
       {{"scrape_interval", duration(interval)}, {"evaluation_interval", duration(interval)}}},
      {"scrape_configs", scrapes}};
  if (!rule_files.empty()) config["rule_files"] = rule_files;
  return config.dump(2) + "\n";
}

prometheus_server::prometheus_server(const std::string& config_text, const std::string& dir)
    : log_path_(dir + "/prometheus.log") {
  std::filesystem::create_directories(dir + "/data");
  auto config = dir + "/prometheus.yml";
  { std::ofstream{config, std::ios::trunc} << config_text; }
  { std::ofstream{log_path_, std::ios::trunc}; }
  if (wait_exit(spawn_child(promtool_binary(), {"check", "config", config}, log_path_),
                std::chrono::seconds(30)) != 0)
    return;
  int port = free_port(SOCK_STREAM);
  auto address = "127.0.0.1:" + std::to_string(port);
  pid_ = spawn_child(prometheus_binary(),
                     {"--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
                      "--web.listen-address=" + address, "--log.level=warn"},
                     log_path_);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {
    if (reaped(pid_)) {
      pid_ = -1;
      return;
    }
    std::string body;
    if (http_get("http://" + address + "/-/ready", body) == 200) {
      port_ = port;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

prometheus_server::~prometheus_server() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit(pid_, std::chrono::seconds(10));
}

std::string prometheus_server::output() const {
  return read_text(log_path_);
}

json prometheus_server::get(const std::string& path) const {
  if (port_ == 0) return {};
  std::string body;
  http_get("http://127.0.0.1:" + std::to_string(port_) + path, body);
  auto doc = json::parse(body, nullptr, false);
  return doc.is_discarded() ? json{} : doc;
}

std::optional<json> prometheus_server::query(const std::string& expr, std::string* error) const {
  auto doc = get("/api/v1/query?query=" + escaped(expr));
  if (!doc.is_object() || doc.value("status", "") != "success" || !doc.contains("data") ||
      !doc["data"].is_object() || doc["data"].value("resultType", "") != "vector" ||
      !doc["data"]["result"].is_array()) {
    if (error) *error = doc.is_null() ? "no JSON answer" : doc.dump();
    return std::nullopt;
  }
  return doc["data"]["result"];
}

std::optional<double> prometheus_server::value(const std::string& expr) const {
  auto result = query(expr);
  if (!result || result->size() != 1) return std::nullopt;
  const auto& sample = (*result)[0]["value"];
  if (!sample.is_array() || sample.size() != 2 || !sample[1].is_string()) return std::nullopt;
  // Prometheus writes a sample's value as a string ("1", "0.25", "NaN", "+Inf").
  const auto text = sample[1].get<std::string>();
  char* rest = nullptr;
  double v = std::strtod(text.c_str(), &rest);
  if (rest == text.c_str() || *rest != '\0') return std::nullopt;
  return v;
}

int prometheus_server::stop() {
  if (pid_ <= 0) return -1;
  int code = stop_child(pid_, std::chrono::seconds(10));
  pid_ = -1;
  port_ = 0;
  return code;
}

}  // namespace ab::harness
