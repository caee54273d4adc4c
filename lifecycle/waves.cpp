#include "lifecycle/waves.hpp"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace ab::lifecycle {

namespace {

bool finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

/// The wave host's state for its request's state.
std::string state_of(storage::request_state s) {
  switch (s) {
    case storage::request_state::queued:
    case storage::request_state::running:
      return "running";
    case storage::request_state::succeeded:
      return "succeeded";
    case storage::request_state::failed:
      return "failed";
    case storage::request_state::cancelled:
      return "cancelled";
  }
  return "running";
}

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("lifecycle");
  return log ? log : spdlog::default_logger()->clone("lifecycle");
}

}  // namespace

std::string group_of(const storage::host_record& host, const std::string& group_by) {
  // The rack the inventory records (docs/safety.md, Pacing) comes first.
  if (group_by == "rack" && !host.rack.empty()) return host.rack;
  auto facts = nlohmann::json::parse(host.facts, nullptr, false);
  if (facts.is_object())
    if (auto it = facts.find(group_by); it != facts.end() && it->is_string())
      return it->get<std::string>();
  return {};
}

std::vector<storage::wave_host> plan_waves(const std::vector<storage::host_record>& hosts,
                                           const std::string& group_by, int max_unavailable,
                                           int wave_size) {
  max_unavailable = std::max(max_unavailable, 1);
  // Per wave: hosts in it, and hosts of each group in it.
  std::vector<int> sizes;
  std::vector<std::map<std::string, int>> groups;
  std::vector<storage::wave_host> out;
  for (const auto& h : hosts) {
    auto g = group_of(h, group_by);
    std::size_t k = 0;
    while (k < sizes.size() &&
           (groups[k][g] >= max_unavailable || (wave_size > 0 && sizes[k] >= wave_size)))
      ++k;
    if (k == sizes.size()) {
      sizes.push_back(0);
      groups.emplace_back();
    }
    ++sizes[k];
    ++groups[k][g];
    storage::wave_host w;
    w.host = h.name;
    w.wave_no = static_cast<int>(k) + 1;
    w.group = g;
    out.push_back(std::move(w));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.wave_no < b.wave_no; });
  return out;
}

wave_tally tally(const storage::wave_record& w, int wave_no) {
  wave_tally t;
  for (const auto& h : w.hosts) {
    if (h.wave_no != wave_no) continue;
    ++t.hosts;
    if (h.state == "pending")
      ++t.pending;
    else if (h.state == "running")
      ++t.running;
    else if (h.state == "succeeded")
      ++t.succeeded;
    else
      ++t.failed;  // failed, cancelled: not done as planned
  }
  return t;
}

wave_engine::wave_engine(std::shared_ptr<storage::store> store, std::shared_ptr<const rules> rules,
                         std::shared_ptr<const ab::clock> clk, std::string owner, time_ms lease_ms)
    : store_(std::move(store)),
      rules_(std::move(rules)),
      clock_(std::move(clk)),
      owner_(std::move(owner)),
      lease_ms_(lease_ms) {}

caf::expected<std::size_t> wave_engine::advance() {
  auto held = store_->take_wave_lease(owner_, lease_ms_);
  if (!held) return held.error();
  if (!*held) return std::size_t{0};
  auto running = store_->waves({"running", 0, 1000});
  if (!running) return running.error();
  for (const auto& summary : *running) {
    auto w = store_->wave(summary.id);
    if (!w) return w.error();
    if (auto err = advance(std::move(*w))) return err;
  }
  return running->size();
}

caf::error wave_engine::advance(storage::wave_record w) {
  std::vector<storage::wave_host> changed;
  // What became of the current wave's requests.
  for (auto& h : w.hosts) {
    if (h.wave_no != w.current_wave || h.state != "running") continue;
    auto r = store_->request(h.request);
    if (!r && is(r.error(), errc::not_found)) {
      h.state = "failed";
      h.error = "its request " + std::to_string(h.request) + " is gone";
    } else if (!r) {
      return r.error();
    } else {
      auto now_state = state_of(r->state);
      if (now_state == h.state) continue;
      h.state = now_state;
      h.error = r->error;
    }
    changed.push_back(h);
  }
  auto now = clock_->now();
  if (w.current_wave > 0) {
    auto t = tally(w, w.current_wave);
    if (t.failed * 100 > w.failure_threshold * t.hosts) {
      w.state = "stopped";
      w.reason = "wave " + std::to_string(w.current_wave) + ": " + std::to_string(t.failed) +
                 " of " + std::to_string(t.hosts) + " hosts failed, above the threshold of " +
                 std::to_string(w.failure_threshold) + "%; later waves were not started";
      logger()->warn("wave plan {} stopped: {}", w.id, w.reason);
      auto ok = store_->update_wave(w, changed);
      return ok ? caf::error{} : ok.error();
    }
    if (t.pending > 0) {
      // A round cut short after the wave was started: submit the rest (idempotently).
      if (auto err = submit_wave(w, w.current_wave, changed)) return err;
      auto ok = store_->update_wave(w, changed);
      return ok ? caf::error{} : ok.error();
    }
    auto write = [&]() -> caf::error {
      auto ok = store_->update_wave(w, changed);
      return ok ? caf::error{} : ok.error();
    };
    if (t.running > 0) return changed.empty() ? caf::error{} : write();
    if (w.current_wave >= w.waves_total) {
      w.state = "succeeded";
      int failed = 0;
      for (const auto& h : w.hosts) failed += finished(h.state) && h.state != "succeeded";
      w.reason = "all " + std::to_string(w.waves_total) + " waves done; " + std::to_string(failed) +
                 " host(s) failed";
      return write();
    }
    if (w.next_at == 0) {
      // The pause between waves starts when the wave ends.
      w.next_at = now + w.pause_ms;
      if (w.pause_ms > 0) return write();
    } else if (now < w.next_at) {
      return changed.empty() ? caf::error{} : write();
    }
  }
  if (w.current_wave == 0 && now < w.next_at) return {};
  // The next wave: charged to its creator's hourly quota (it waits while it does not fit),
  // then claimed in the database before any of its requests is submitted, so that a stop in
  // between is seen and a crash in between is repeated from the database.
  std::int64_t charge = 0;
  if (w.quota_per_hour > 0) {
    auto next = tally(w, w.current_wave + 1);
    auto q = store_->charge_quota({w.created_by, w.action, next.hosts, w.quota_per_hour});
    if (!q) return q.error();
    if (!q->charged) {
      w.reason = "wave " + std::to_string(w.current_wave + 1) + " waits for the hourly quota of " +
                 w.created_by + ": " + std::to_string(q->used) + " of " +
                 std::to_string(w.quota_per_hour) + " hosts used, " + std::to_string(next.hosts) +
                 " needed";
      // When it fits (a wave larger than the quota never does: it waits for an operator).
      w.next_at = q->fits_at > 0 ? q->fits_at : now + 3'600'000;
      auto ok = store_->update_wave(w, changed);
      return ok ? caf::error{} : ok.error();
    }
    charge = q->id;
  }
  w.current_wave += 1;
  w.next_at = 0;
  w.reason.clear();
  auto claimed = store_->update_wave(w, changed);
  if (!claimed) return claimed.error();
  if (!*claimed) {
    if (charge) store_->settle_quota(charge, 0);
    return {};
  }
  changed.clear();
  if (auto err = submit_wave(w, w.current_wave, changed)) return err;
  logger()->info("wave plan {}: wave {} of {} started ({} hosts)", w.id, w.current_wave,
                 w.waves_total, changed.size());
  auto ok = store_->update_wave(w, changed);
  return ok ? caf::error{} : ok.error();
}

caf::error wave_engine::submit_wave(const storage::wave_record& w, int wave_no,
                                    std::vector<storage::wave_host>& changed) {
  std::vector<std::string> names;
  for (const auto& h : w.hosts)
    if (h.wave_no == wave_no && h.state == "pending") names.push_back(h.host);
  auto found = store_->find_hosts(names);
  if (!found) return found.error();
  std::map<std::string, storage::host_record> by_name;
  for (auto& h : *found) by_name.emplace(h.name, std::move(h));
  for (auto h : w.hosts) {
    if (h.wave_no != wave_no || h.state != "pending") continue;
    auto it = by_name.find(h.host);
    if (it == by_name.end()) {
      h.state = "failed";
      h.error = "the host is no longer in the inventory";
      changed.push_back(std::move(h));
      continue;
    }
    auto plan = rules_->plan(w.action, it->second);
    if (!plan) {
      h.state = "failed";
      h.error = message_of(plan.error());
      changed.push_back(std::move(h));
      continue;
    }
    storage::request_spec s;
    s.action = w.action;
    s.host = h.host;
    s.site = it->second.site;
    s.priority_class = w.priority_class;
    s.submitter = w.created_by;
    s.idempotency_key = "wave-" + std::to_string(w.id);
    s.fingerprint = s.idempotency_key;
    plan->apply_to(s);
    // One host per transaction: a refusal of one (its state moved on) is that host's alone.
    auto out = store_->submit({s});
    if (!out && (is(out.error(), errc::conflict) || is(out.error(), errc::invalid_state))) {
      h.state = "failed";
      h.error = message_of(out.error());
    } else if (!out) {
      return out.error();
    } else {
      const auto& o = out->front();
      using status = storage::submit_outcome::status;
      if (o.what == status::created || o.what == status::existing) {
        h.state = "running";
        h.request = o.id;
      } else {
        h.state = "failed";
        h.error = o.what == status::host_busy
                      ? "the host was busy with request " + std::to_string(o.id)
                  : o.what == status::key_conflict
                      ? "the wave's idempotency key met another request"
                      : "the store refused the request (the host may be on hold)";
      }
    }
    changed.push_back(std::move(h));
  }
  return {};
}

}  // namespace ab::lifecycle
