#include "net/api/waiting_for.hpp"

#include <ctime>

namespace ab::net {

namespace {

/// `ms` as seconds for a reader: `30 s`, `1.5 s`.
std::string seconds(time_ms ms) {
  auto s = std::to_string(ms / 1000);
  if (ms % 1000 >= 100) s += "." + std::to_string(ms % 1000 / 100);
  return s + " s";
}

/// The first job of `r`'s chain that is not done, or null.
const storage::job_view* current_job(const storage::request_view& r) {
  for (const auto& j : r.jobs)
    if (j.state != storage::job_state::done) return &j;
  return nullptr;
}

}  // namespace

std::vector<lifecycle::blocker> safety_blockers(storage::safety_store& store,
                                                const config::cluster_map& map,
                                                const storage::request_view& r) {
  // Only work that waits for a claim is stopped by a hold or a pause (`waiting_for` names them
  // only then): not a running or parked job, not a finished request.
  if (storage::is_terminal(r.state)) return {};
  const auto* current = current_job(r);
  if (!current || current->state == storage::job_state::running ||
      current->state == storage::job_state::parked)
    return {};
  // The hold came with the request; the pauses are read only when there are some.
  std::vector<storage::hold> holds;
  if (r.host_hold) holds.push_back(*r.host_hold);
  std::vector<storage::pause> pauses;
  if (r.pauses_in_force) {
    auto in_force = store.active_pauses();
    if (!in_force) return {};
    pauses = std::move(*in_force);
  }
  return lifecycle::blockers_of(
      {r.host, r.site, r.action, map.cluster_serving(r.action).value_or("")}, holds, pauses);
}

std::string iso_utc(time_ms time) {
  std::time_t secs = static_cast<std::time_t>(time / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> waiting_for(const storage::request_view& r, const waiting_context& ctx) {
  if (storage::is_terminal(r.state)) return std::nullopt;
  // The chain runs in order: the first job not done is the one the request waits on.
  const auto* current = current_job(r);
  if (!current || current->state == storage::job_state::running) return std::nullopt;
  if (current->state == storage::job_state::parked)
    return "job " + current->type + " is waiting for the installer's callback" +
           (current->deadline > 0 ? " until " + iso_utc(current->deadline) : std::string{});
  if (!ctx.blockers.empty()) {
    std::string out;
    for (const auto& b : ctx.blockers)
      out += (out.empty() ? "" : "; ") + (b.kind == "hold" ? "held: " : b.kind + "d: ") + b.reason;
    return out;
  }
  // The claim defers paced work with the limit it waits for as the job's error.
  constexpr std::string_view paced = "pacing: ";
  if (current->not_before > ctx.now && current->error.rfind(paced, 0) == 0)
    return "job " + current->type +
           " waits its turn (pacing): " + current->error.substr(paced.size()) +
           "; looked at again at " + iso_utc(current->not_before);
  if (current->not_before > ctx.now)
    return "job " + current->type + ": retry at " + iso_utc(current->not_before) +
           (current->error.empty() ? std::string{} : " after: " + current->error);
  auto cluster = ctx.map.cluster_serving(r.action);
  if (!cluster)
    return "no cluster of the cluster map serves action " + r.action +
           " (clusters: " + ctx.map.describe() + ")";
  for (const auto& n : ctx.nodes)
    if (n.cluster == *cluster && n.site == r.site && ctx.now - n.last_seen <= ctx.live_window_ms)
      return std::nullopt;
  return "no live node of cluster " + *cluster + " (serves " + r.action + ") in site " + r.site +
         " has sent a heartbeat in the last " + seconds(ctx.live_window_ms);
}

}  // namespace ab::net
