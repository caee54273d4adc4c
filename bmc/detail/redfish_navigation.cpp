#include "bmc/detail/redfish_navigation.hpp"

#include <thread>

#include "core/error.hpp"

namespace ab::bmc::detail {

caf::expected<resource> first_member(redfish_client& c, const std::string& key) {
  // The member an earlier call of this session found: one GET instead of two.
  if (const auto* known = c.recall("first:" + key); known && known->is_string()) {
    auto path = known->get<std::string>();
    auto body = c.get(path);
    if (body) return resource{path, std::move(*body)};
    if (!is(body.error(), errc::not_found)) return std::move(body.error());
  }
  auto path = link(c.root(), key);
  if (path.empty()) return make_error(errc::not_found, "BMC " + c.endpoint() + " has no " + key);
  auto collection = c.get(path);
  if (!collection) return std::move(collection.error());
  auto ids = members(*collection);
  if (ids.empty()) return make_error(errc::not_found, "BMC " + c.endpoint() + " lists no " + key);
  auto body = c.get(ids.front());
  if (!body) return std::move(body.error());
  c.remember("first:" + key, ids.front());
  return resource{ids.front(), std::move(*body)};
}

caf::expected<std::vector<resource>> linked_members(redfish_client& c, const nlohmann::json& owner,
                                                    const std::string& key) {
  std::vector<resource> out;
  auto path = link(owner, key);
  if (path.empty()) return out;
  auto collection = c.get(path);
  if (!collection) return std::move(collection.error());
  for (const auto& id : members(*collection)) {
    auto body = c.get(id);
    if (!body) return std::move(body.error());
    out.push_back({id, std::move(*body)});
  }
  return out;
}

std::string action_target(const nlohmann::json& resource, const std::string& action) {
  if (!resource.is_object() || !resource.contains("Actions")) return {};
  const auto& actions = resource["Actions"];
  if (!actions.is_object() || !actions.contains(action)) return {};
  return text(actions[action], "target");
}

namespace {

std::string task_messages(const nlohmann::json& task) {
  std::string out;
  if (task.is_object() && task.contains("Messages") && task["Messages"].is_array())
    for (const auto& m : task["Messages"]) {
      auto s = text(m, "Message");
      if (!s.empty()) out += (out.empty() ? "" : "; ") + s;
    }
  return out;
}

}  // namespace

caf::error wait_for_task(redfish_client& c, const std::string& location,
                         std::chrono::milliseconds interval, std::chrono::milliseconds limit) {
  auto deadline = c.clock().monotonic() + limit;
  for (;;) {
    auto a = c.poll(location);
    if (!a) return std::move(a.error());
    auto state = text(a->body, "TaskState");
    if (state == "Exception" || state == "Killed" || state == "Cancelled")
      return make_error(errc::unavailable, "BMC " + c.endpoint() + " task " + location + " ended " +
                                               state + ": " + task_messages(a->body));
    bool running = a->status == 202 || state == "New" || state == "Starting" ||
                   state == "Running" || state == "Pending" || state == "Stopping";
    if (!running) return {};
    if (c.clock().monotonic() + interval >= deadline)
      return make_error(errc::unavailable,
                        "BMC " + c.endpoint() + " task " + location + " did not finish in time");
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace ab::bmc::detail
