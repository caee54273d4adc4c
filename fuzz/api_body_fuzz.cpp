// Fuzzes the JSON request bodies of the REST API. The first input byte picks the parser
// ('0' POST /v1/requests, '1' POST /v1/hosts, '2' PATCH /v1/hosts/{name}, '3' POST
// /v1/callbacks/{id}); the rest is the body. Beyond not crashing, every answer must be a valid
// command or a well-formed 4xx, and what was accepted must be accepted again, unchanged, when
// encoded back to JSON.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.hpp"
#include "net/api/codec.hpp"

namespace {

using ab::fuzz::require;
using ab::fuzz::require_client_error;
using nlohmann::json;
namespace net = ab::net;
namespace storage = ab::storage;

const std::vector<std::string> actions{"reimage", "power_on"};
const std::vector<std::string> classes{"maas", "user", "organic"};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool same_host(const storage::host_record& a, const storage::host_record& b) {
  return a.name == b.name && a.site == b.site && a.bmc_endpoint == b.bmc_endpoint &&
         a.credential_ref == b.credential_ref;
}

/// A host as a `POST /v1/hosts` item, taken from what `encode_host` says about it.
json host_input(const storage::host_record& h) {
  auto encoded = json::parse(net::encode_host(h));
  return {{"name", encoded["name"]},
          {"site", encoded["site"]},
          {"bmc_endpoint", encoded["bmc_endpoint"]},
          {"credential_ref", encoded["credential_ref"]}};
}

void check_submit_command(const net::submit_command& cmd) {
  require(contains(actions, cmd.action), "an accepted submission names a known action");
  require(!cmd.hosts.empty() && cmd.hosts.size() <= 10000, "a submission has 1-10000 hosts");
  for (const auto& h : cmd.hosts) require(net::valid_host_name(h), "submitted hosts are valid");
  require(contains(classes, cmd.priority_class), "an accepted submission has a known class");
  auto params = json::parse(cmd.params, nullptr, false);
  require(params.is_object(), "accepted params are a JSON object");

  json again{{"action", cmd.action},
             {"hosts", cmd.hosts},
             {"priority", cmd.priority_class},
             {"params", params}};
  auto reparsed = net::parse_submit(again.dump(), actions, classes);
  const auto* same = std::get_if<net::submit_command>(&reparsed);
  require(same != nullptr, "a re-encoded submission is accepted");
  require(same->action == cmd.action && same->hosts == cmd.hosts &&
              same->priority_class == cmd.priority_class && same->params == cmd.params,
          "a re-encoded submission parses to the same command");
}

void fuzz_submit(const std::string& body) {
  auto r = net::parse_submit(body, actions, classes);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(*e, {"malformed_json", "wrong_type", "unknown_field", "missing_field",
                              "unknown_action", "invalid_host", "unknown_priority"});
    return;
  }
  check_submit_command(std::get<net::submit_command>(r));
}

void check_hosts(const std::vector<storage::host_record>& hosts) {
  require(!hosts.empty() && hosts.size() <= 10000, "a registration has 1-10000 hosts");
  json list = json::array();
  for (const auto& h : hosts) {
    require(net::valid_host_name(h.name), "a registered host has a valid name");
    require(net::valid_site_name(h.site), "a registered host has a valid site name");
    require(!h.credential_ref.empty(), "a registered host has every field");
    require(h.bmc_endpoint.rfind("https://", 0) == 0 || h.bmc_endpoint.rfind("http://", 0) == 0 ||
                h.bmc_endpoint.rfind("ipmi://", 0) == 0,
            "a registered host has a BMC URL");
    list.push_back(host_input(h));
  }
  auto reparsed = net::parse_hosts(json{{"hosts", list}}.dump());
  const auto* same = std::get_if<std::vector<storage::host_record>>(&reparsed);
  require(same != nullptr && same->size() == hosts.size(), "re-encoded hosts are accepted");
  for (std::size_t i = 0; i < hosts.size(); ++i)
    require(same_host((*same)[i], hosts[i]), "re-encoded hosts parse to the same hosts");
}

void fuzz_hosts(const std::string& body) {
  auto r = net::parse_hosts(body);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(*e, {"malformed_json", "wrong_type", "unknown_field", "missing_field",
                              "invalid_host", "invalid_site", "invalid_field"});
    return;
  }
  check_hosts(std::get<std::vector<storage::host_record>>(r));
}

/// The field `key` after a patch: the body's value when it names one, else the old one.
std::string patched(const json& body, const char* key, const std::string& old) {
  return body.contains(key) ? body[key].get<std::string>() : old;
}

void fuzz_host_patch(const std::string& body) {
  storage::host_record base;
  base.name = "base-1";
  base.site = "dc1";
  base.bmc_endpoint = "https://bmc-1";
  base.credential_ref = "ref-1";
  auto r = net::parse_host_patch(body, base);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(
        *e, {"malformed_json", "wrong_type", "unknown_field", "invalid_site", "invalid_field"});
    return;
  }
  const auto& h = std::get<storage::host_record>(r);
  require(net::valid_site_name(h.site), "an accepted patch leaves a valid site name");
  // The patch was accepted, so the body is a JSON object of string fields.
  auto doc = json::parse(body);
  require(h.name == base.name, "a patch keeps the host's name");
  require(h.site == patched(doc, "site", base.site) &&
              h.bmc_endpoint == patched(doc, "bmc_endpoint", base.bmc_endpoint) &&
              h.credential_ref == patched(doc, "credential_ref", base.credential_ref),
          "a patch changes exactly the fields it names");
  auto again = host_input(h);
  again.erase("name");
  auto reparsed = net::parse_host_patch(again.dump(), base);
  const auto* same = std::get_if<storage::host_record>(&reparsed);
  require(same != nullptr && same_host(*same, h), "a re-encoded patch gives the same host");
}

void fuzz_callback(const std::string& body) {
  auto r = net::parse_callback(body);
  if (const auto* e = std::get_if<net::api_error>(&r)) {
    require_client_error(*e, {"malformed_json", "too_deep", "wrong_type", "unknown_field",
                              "missing_field", "invalid_field"});
    return;
  }
  const auto& report = std::get<net::callback_report>(r);
  auto payload = json::parse(report.payload);
  require(payload.is_object() && payload["status"] == (report.succeeded ? "succeeded" : "failed"),
          "a callback's payload carries its status");
  auto again = net::parse_callback(report.payload);
  const auto* same = std::get_if<net::callback_report>(&again);
  require(same != nullptr && same->payload == report.payload,
          "a callback's payload parses to the same report");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzz_submit(body);
      break;
    case 1:
      fuzz_hosts(body);
      break;
    case 3:
      fuzz_callback(body);
      break;
    default:
      fuzz_host_patch(body);
      break;
  }
  return 0;
}
