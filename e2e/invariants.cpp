#include "e2e/invariants.hpp"

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>

namespace ab::e2e {

namespace {

/// A request's stored times come from the nodes' clocks as each transaction began: a second
/// submission that waited on the first one's commit may carry a time a little before the first
/// one's finish. Overlaps shorter than this are that race, not two active requests.
constexpr std::int64_t commit_slack_ms = 250;

bool terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

/// The job id and claim of a tag `JOB_ID/CLAIM`; false for anything else.
bool parse_tag(const std::string& tag, std::int64_t& job, std::string& claim) {
  auto slash = tag.find('/');
  if (slash == std::string::npos || slash == 0 || slash > 18) return false;
  job = 0;
  for (std::size_t i = 0; i < slash; ++i) {
    if (tag[i] < '0' || tag[i] > '9') return false;
    job = job * 10 + (tag[i] - '0');
  }
  claim = tag.substr(slash + 1);
  return !claim.empty();
}

std::string describe(const bmc_action_record& a) {
  return a.kind + (a.detail.empty() ? "" : " " + a.detail) + " at " + std::to_string(a.at) +
         " by " + (a.job.empty() ? "-" : a.job);
}

void check_requests(const run_records& r, verdict& v,
                    const std::unordered_map<std::int64_t, const request_record*>& by_id) {
  std::set<std::int64_t> seen;
  for (const auto& a : r.accepted) {
    if (!seen.insert(a.id).second) continue;
    ++v.accepted;
    auto it = by_id.find(a.id);
    if (it == by_id.end()) {
      ++v.lost;
      v.violations.push_back({"lost", "request " + std::to_string(a.id) + " (" + a.action + " " +
                                          a.host + ") was accepted but no store holds it"});
      continue;
    }
    const auto& q = *it->second;
    if (!terminal(q.state)) {
      v.violations.push_back({"unfinished", "request " + std::to_string(a.id) + " (" + q.action +
                                                " " + q.host + ") is still " + q.state});
      continue;
    }
    ++v.terminal;
    if (q.state != "succeeded" && q.error.empty())
      v.violations.push_back({"no_reason", "request " + std::to_string(a.id) + " (" + q.action +
                                               " " + q.host + ") " + q.state + " with no reason"});
  }
  // A request stored for a call whose answer never reached its client is accepted all the
  // same: it must end too.
  for (const auto& q : r.requests)
    if (!seen.count(q.id) && !terminal(q.state))
      v.violations.push_back({"unfinished", "request " + std::to_string(q.id) + " (" + q.action +
                                                " " + q.host + ", its client never saw it) is " +
                                                "still " + q.state});
}

void check_chains(const run_records& r, verdict& v, std::set<std::int64_t>& disordered) {
  for (const auto& q : r.requests) {
    auto jobs = q.jobs;
    std::sort(jobs.begin(), jobs.end(),
              [](const job_record& a, const job_record& b) { return a.position < b.position; });
    for (std::size_t p = 1; p < jobs.size(); ++p) {
      const auto& before = jobs[p - 1];
      const auto& job = jobs[p];
      if (job.started_at == 0) continue;
      bool early = before.state != "done" || job.started_at < before.finished_at;
      if (early && disordered.insert(q.id).second)
        v.violations.push_back(
            {"out_of_order",
             "request " + std::to_string(q.id) + ": job " + std::to_string(job.position) + " (" +
                 job.type + ") started at " + std::to_string(job.started_at) + " while job " +
                 std::to_string(before.position) + " (" + before.type + ") was " + before.state +
                 " (finished at " + std::to_string(before.finished_at) + ")"});
    }
  }
}

void check_hosts(const run_records& r, verdict& v) {
  std::map<std::string, std::vector<const request_record*>> by_host;
  for (const auto& q : r.requests) by_host[q.host].push_back(&q);
  for (auto& [host, list] : by_host) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id;
    });
    for (std::size_t i = 1; i < list.size(); ++i) {
      const auto& a = *list[i - 1];
      const auto& b = *list[i];
      bool open = !terminal(a.state) || a.finished_at == 0;
      if (open || b.created_at + commit_slack_ms < a.finished_at)
        v.violations.push_back(
            {"two_active",
             "host " + host + ": request " + std::to_string(b.id) + " was created at " +
                 std::to_string(b.created_at) + " while request " + std::to_string(a.id) + " was " +
                 (open ? "still " + a.state : "active until " + std::to_string(a.finished_at))});
    }
  }
}

void check_bmcs(const run_records& r, verdict& v,
                const std::unordered_map<std::int64_t, const request_record*>& by_id,
                std::set<std::int64_t>& disordered) {
  std::set<std::int64_t> doubled;
  for (const auto& [bmc, actions] : r.bmc_actions) {
    // Per job: the claims in the order they acted, and whether one came back after another.
    std::map<std::int64_t, std::vector<std::string>> claims;
    std::map<std::int64_t, int> highest_position;
    std::vector<std::int64_t> requests;
    bool interleaved = false;
    for (const auto& a : actions) {
      std::int64_t job = 0;
      std::string claim;
      if (!parse_tag(a.job, job, claim)) continue;
      auto request = request_of_job(job);
      auto position = static_cast<int>(job % 64);
      if (auto it = by_id.find(request); it != by_id.end() && it->second->host != bmc)
        v.violations.push_back({"misdirected", "BMC " + bmc + " took " + describe(a) +
                                                   ", a job of request " + std::to_string(request) +
                                                   " on host " + it->second->host});
      auto& seen = claims[job];
      if (seen.empty() || seen.back() != claim) {
        if (std::find(seen.begin(), seen.end(), claim) != seen.end() &&
            doubled.insert(job).second) {
          ++v.double_runs;
          v.violations.push_back({"double_run", "job " + std::to_string(job) + " on BMC " + bmc +
                                                    ": claim " + claim + " acted again (" +
                                                    describe(a) + ") after claim " + seen.back() +
                                                    " had begun"});
        }
        seen.push_back(claim);
      }
      auto [top, fresh] = highest_position.emplace(request, position);
      if (!fresh) {
        if (position < top->second && disordered.insert(request).second)
          v.violations.push_back(
              {"out_of_order", "request " + std::to_string(request) + " on BMC " + bmc + ": " +
                                   describe(a) + " (job " + std::to_string(position) +
                                   ") after an action of job " + std::to_string(top->second)});
        top->second = std::max(top->second, position);
      }
      if (requests.empty() || requests.back() != request) {
        if (!interleaved &&
            std::find(requests.begin(), requests.end(), request) != requests.end()) {
          interleaved = true;
          v.violations.push_back({"two_active", "BMC " + bmc + ": request " +
                                                    std::to_string(request) + " acted again (" +
                                                    describe(a) + ") after request " +
                                                    std::to_string(requests.back()) + " had"});
        }
        requests.push_back(request);
      }
    }
  }
}

void check_audit(const run_records& r, verdict& v) {
  // As many entries of each (site, action, target) as the run's changes made, at least.
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> wanted;
  for (const auto& e : r.audit_expected) ++wanted[{e.site, e.action, e.target}];
  for (const auto& [key, count] : wanted) {
    const auto& [site, action, target] = key;
    std::size_t found = 0;
    if (auto it = r.audit_found.find(site); it != r.audit_found.end())
      found = static_cast<std::size_t>(
          std::count_if(it->second.begin(), it->second.end(),
                        [&](const auto& f) { return f.first == action && f.second == target; }));
    if (found < count)
      v.violations.push_back({"unaudited", "site " + site + ": " + std::to_string(count) +
                                               " change(s) " + action + " on " + target +
                                               " made, " + std::to_string(found) + " audited"});
  }
}

void check_callbacks(const run_records& r, verdict& v) {
  std::set<std::string> lost{r.install_lost_hosts.begin(), r.install_lost_hosts.end()};
  for (const auto& q : r.requests)
    if (q.state == "failed" && !lost.count(q.host) &&
        q.error.find(install_deadline_reason) != std::string::npos)
      v.violations.push_back({"callback_lost", "request " + std::to_string(q.id) + " (" + q.action +
                                                   " " + q.host +
                                                   ") failed at its install deadline, but the "
                                                   "host's installer was not told to lose its "
                                                   "callback: " +
                                                   q.error});
}

}  // namespace

std::map<std::string, action_tally> tally_actions(const std::vector<accepted_request>& accepted,
                                                  const std::vector<request_record>& requests) {
  std::unordered_map<std::int64_t, const request_record*> by_id;
  for (const auto& q : requests) by_id[q.id] = &q;
  std::map<std::string, action_tally> out;
  std::set<std::int64_t> seen;
  for (const auto& a : accepted) {
    if (!seen.insert(a.id).second) continue;
    auto& t = out[a.action];
    ++t.accepted;
    auto it = by_id.find(a.id);
    const std::string state = it == by_id.end() ? "" : it->second->state;
    if (state == "succeeded")
      ++t.succeeded;
    else if (state == "failed")
      ++t.failed;
    else if (state == "cancelled")
      ++t.cancelled;
    else
      ++t.other;
  }
  return out;
}

std::vector<violation> coverage(const std::vector<accepted_request>& accepted,
                                const std::vector<request_record>& requests,
                                const std::vector<std::string>& actions_expected,
                                const std::vector<std::string>& install_lost_hosts,
                                const std::vector<std::string>& install_fail_hosts) {
  std::vector<violation> out;
  auto tally = tally_actions(accepted, requests);
  for (const auto& action : actions_expected) {
    auto it = tally.find(action);
    action_tally t = it == tally.end() ? action_tally{} : it->second;
    if (t.succeeded > 0) continue;
    out.push_back(
        {"never_succeeded",
         "action " + action + " never reached succeeded: accepted=" + std::to_string(t.accepted) +
             " failed=" + std::to_string(t.failed) + " cancelled=" + std::to_string(t.cancelled) +
             " unfinished=" + std::to_string(t.other)});
  }
  std::set<std::int64_t> mine;
  for (const auto& a : accepted) mine.insert(a.id);
  // A fault on `hosts` took effect when an accepted request of one of them failed for `reason`.
  auto took_effect = [&](const std::vector<std::string>& hosts, const char* reason,
                         const char* kind, const std::string& fault, const std::string& effect) {
    if (hosts.empty()) return;
    std::set<std::string> on{hosts.begin(), hosts.end()};
    bool seen = std::any_of(requests.begin(), requests.end(), [&](const request_record& q) {
      return mine.count(q.id) && on.count(q.host) && q.state == "failed" &&
             q.error.find(reason) != std::string::npos;
    });
    if (seen) return;
    std::string names;
    for (const auto& h : on) names += (names.empty() ? "" : ", ") + h;
    out.push_back({kind, fault + names + ", but no accepted request of theirs " + effect});
  };
  took_effect(install_lost_hosts, install_deadline_reason, "no_install_deadline",
              "the installer's callbacks were lost on ", "failed at its install deadline");
  took_effect(install_fail_hosts, installer_failure_reason, "no_installer_failure",
              "the installers report failures on ", "failed with that report");
  return out;
}

std::int64_t request_of_job(std::int64_t job) {
  return job / 64;
}

verdict check(const run_records& records) {
  verdict v;
  std::unordered_map<std::int64_t, const request_record*> by_id;
  for (const auto& q : records.requests) by_id[q.id] = &q;
  check_requests(records, v, by_id);
  std::set<std::int64_t> disordered;
  check_chains(records, v, disordered);
  check_bmcs(records, v, by_id, disordered);
  v.out_of_order = disordered.size();
  check_hosts(records, v);
  check_audit(records, v);
  check_callbacks(records, v);
  for (auto& x : coverage(records.accepted, records.requests, records.actions_expected,
                          records.install_lost_hosts, records.install_fail_hosts))
    v.violations.push_back(std::move(x));
  return v;
}

std::string summary_line(const verdict& v, std::size_t faults) {
  return "e2e: accepted=" + std::to_string(v.accepted) + " terminal=" + std::to_string(v.terminal) +
         " lost=" + std::to_string(v.lost) + " double_runs=" + std::to_string(v.double_runs) +
         " out_of_order=" + std::to_string(v.out_of_order) + " faults=" + std::to_string(faults);
}

}  // namespace ab::e2e
