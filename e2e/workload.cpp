#include "e2e/workload.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "harness/http_exchange.hpp"

namespace ab::e2e {

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

bool terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

/// Worth calling again with the same key: no answer, overload, or a server error.
bool retryable(int status) {
  return status == 0 || status == 429 || status >= 500;
}

}  // namespace

struct workload::client {
  int index = 0;
  std::mt19937_64 rng;
  std::vector<std::string> hosts;
  /// Host → lifecycle state as last read; "" means read it before the next submission.
  std::map<std::string, std::string> state;
  /// Request id → host, for the requests in flight.
  std::map<std::int64_t, std::string> flying;
  std::set<std::string> busy;
  std::set<std::int64_t> mine;
  long keys = 0;
  std::size_t cursor = 0;
};

workload::workload(workload_options options) : options_(std::move(options)) {
  for (int t = 0; t < options_.clients; ++t) {
    auto c = std::make_unique<client>();
    c->index = t;
    c->rng.seed(options_.seed * 7919 + static_cast<std::uint64_t>(t));
    for (std::size_t i = static_cast<std::size_t>(t); i < options_.hosts.size();
         i += static_cast<std::size_t>(options_.clients)) {
      c->hosts.push_back(options_.hosts[i]);
      c->state[options_.hosts[i]] = options_.started_further.count(options_.hosts[i]) ? "" : "new";
    }
    // Spread each client's hosts of the sites over its submissions (the list is site by site).
    std::shuffle(c->hosts.begin(), c->hosts.end(), c->rng);
    clients_.push_back(std::move(c));
  }
  for (auto& c : clients_) threads_.emplace_back([this, cl = c.get()] { run(*cl); });
}

workload::~workload() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void workload::stop_submitting() {
  submitting_ = false;
}

bool workload::finish(std::int64_t limit_ms) {
  submitting_ = false;
  auto end = clock_type::now() + std::chrono::milliseconds(limit_ms);
  bool drained = false;
  while (clock_type::now() < end && !(drained = in_flight_ == 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  return drained || in_flight_ == 0;
}

std::size_t workload::in_flight() const {
  return in_flight_;
}

std::size_t workload::accepted_count() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return accepted_.size();
}

std::vector<accepted_request> workload::accepted() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return accepted_;
}

std::vector<request_record> workload::finished() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return finished_;
}

workload_figures workload::figures() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return figures_;
}

void workload::run(client& c) {
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& extra = "") {
    auto r = harness::http_exchange(
        options_.port, method, path, body,
        options_.auth + extra + (body.empty() ? "" : "Content-Type: application/json\r\n"));
    std::lock_guard<std::mutex> guard{mutex_};
    if (r.status == 0) ++figures_.no_answer;
    if (r.status >= 500) {
      ++figures_.http_5xx;
      if (figures_.first_5xx.size() < 10)
        figures_.first_5xx.push_back(std::to_string(r.status) + " " + method + " " + path + ": " +
                                     r.body.substr(0, 200));
    }
    if (r.status == 429) ++figures_.http_429;
    return r;
  };
  // The same call with the same key until it gets an answer that is no overload and no
  // server error (bounded: a client gives up eventually, and says so in its figures).
  auto persist = [&](const std::string& method, const std::string& path, const std::string& body,
                     const std::string& extra) {
    harness::http_reply r;
    int wait_ms = 100;
    for (int attempt = 0; attempt < 40 && !stopping_; ++attempt) {
      r = call(method, path, body, extra);
      if (!retryable(r.status)) return r;
      {
        std::lock_guard<std::mutex> guard{mutex_};
        ++figures_.retries;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      wait_ms = std::min(wait_ms * 2, 2000);
    }
    return r;
  };
  auto next_action = [&](const std::string& host, const std::string& state) -> std::string {
    if (state == "new" || state == "discovery_failed") return "discover";
    if (state == "discovered" || state == "provisioning_failed" || state == "ready") return "build";
    if (state == "wipe_failed") return "wipe";
    if (state != "in_service") return "";
    if (options_.install_hosts.count(host)) return "reimage";
    static const std::vector<std::pair<std::string, int>> weights{
        {"reimage", 35}, {"power_off", 15}, {"power_on", 15}, {"ipmi_reboot", 20}, {"wipe", 15}};
    int pick = std::uniform_int_distribution<int>(0, 99)(c.rng);
    for (const auto& [action, w] : weights) {
      if (pick < w) return action;
      pick -= w;
    }
    return "reimage";
  };
  auto read_state = [&](const std::string& host) {
    auto r = persist("GET", "/v1/hosts/" + host, "", "");
    auto doc = json::parse(r.body, nullptr, false);
    if (r.status == 200 && doc.is_object()) c.state[host] = doc.value("lifecycle_state", "");
  };
  auto submit = [&](const std::string& action, const std::vector<std::string>& hosts) {
    json body{{"action", action}};
    if (hosts.size() == 1)
      body["host"] = hosts.front();
    else
      body["hosts"] = hosts;
    // Reimages at MaaS priority overtake the rest; new racks are organic growth.
    if (action == "reimage") body["priority"] = "maas";
    if (action == "discover" || action == "build") body["priority"] = "organic";
    auto key = "e2e-" + std::to_string(options_.seed) + "-" + std::to_string(c.index) + "-" +
               std::to_string(++c.keys);
    harness::http_reply r;
    json doc;
    // A split submission whose site part failed (no node, 5xx) is sent again as a whole: the
    // accepted parts answer with the same requests under the same key.
    for (int round = 0; round < 10 && !stopping_; ++round) {
      r = persist("POST", "/v1/requests", body.dump(), "Idempotency-Key: " + key + "\r\n");
      doc = json::parse(r.body, nullptr, false);
      bool part_failed = false;
      if (doc.is_object() && doc["requests"].is_array())
        for (const auto& e : doc["requests"])
          if (e.is_object() && e.value("status", "") == "failed") part_failed = true;
      if (!part_failed) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::lock_guard<std::mutex> guard{mutex_};
    ++figures_.submissions;
    if (hosts.size() > 1) ++figures_.bulk_submissions;
    std::set<std::string> taken;
    if ((r.status == 200 || r.status == 202 || r.status == 207) && doc.is_object() &&
        doc["requests"].is_array())
      for (const auto& e : doc["requests"]) {
        if (!e.is_object() || !e["id"].is_number_integer()) continue;
        auto status = e.value("status", "");
        if (status == "refused" || status == "failed") continue;
        auto id = e["id"].get<std::int64_t>();
        auto host = e.value("host", "");
        if (!c.mine.insert(id).second) continue;
        accepted_.push_back({id, host, action});
        ++figures_.accepted;
        ++figures_.by_action[action];
        c.flying[id] = host;
        c.busy.insert(host);
        taken.insert(host);
        ++in_flight_;
      }
    for (const auto& h : hosts)
      if (!taken.count(h)) {
        ++figures_.refused;
        c.state[h] = "";
      }
  };

  // Each request in flight is read at most this often: a client follows its work, it does
  // not bombard the API (that is the throughput benchmark's part).
  constexpr auto poll_every = std::chrono::milliseconds(250);
  auto next_poll = clock_type::now();
  while (!stopping_) {
    bool worked = false;
    if (submitting_ && c.flying.size() < static_cast<std::size_t>(options_.in_flight) &&
        !c.hosts.empty()) {
      // The next idle host, round robin, and others of the client's idle hosts that take the
      // same action (of any site) for a bulk call.
      for (std::size_t scanned = 0; scanned < c.hosts.size(); ++scanned) {
        const auto& host = c.hosts[c.cursor++ % c.hosts.size()];
        if (c.busy.count(host)) continue;
        if (c.state[host].empty()) read_state(host);
        auto action = next_action(host, c.state[host]);
        if (action.empty()) continue;
        std::vector<std::string> batch{host};
        if (std::uniform_int_distribution<int>(0, 1)(c.rng) == 1)
          for (std::size_t k = 0;
               k < c.hosts.size() && batch.size() < static_cast<std::size_t>(options_.bulk); ++k) {
            const auto& other = c.hosts[(c.cursor + k) % c.hosts.size()];
            if (other == host || c.busy.count(other) || c.state[other].empty()) continue;
            if (next_action(other, c.state[other]) == action) batch.push_back(other);
          }
        submit(action, batch);
        worked = true;
        break;
      }
    }
    // Follow what is in flight: a finished request frees its host, whose state is read again.
    std::vector<std::int64_t> done;
    bool poll = clock_type::now() >= next_poll;
    if (poll) next_poll = clock_type::now() + poll_every;
    for (const auto& [id, host] : c.flying) {
      if (stopping_ || !poll) break;
      auto r = persist("GET", "/v1/requests/" + std::to_string(id), "", "");
      auto doc = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !doc.is_object()) continue;
      auto state = doc.value("state", "");
      if (!terminal(state)) {
        bool cancel = state == "queued" || state == "running";
        if (cancel &&
            std::uniform_real_distribution<double>(0, 1)(c.rng) < options_.cancel_share / 4) {
          auto k = persist("POST", "/v1/requests/" + std::to_string(id) + "/cancel", "", "");
          std::lock_guard<std::mutex> guard{mutex_};
          if (k.status == 200) ++figures_.cancels;
        }
        continue;
      }
      done.push_back(id);
      std::lock_guard<std::mutex> guard{mutex_};
      ++figures_.by_state[state];
      request_record seen;
      seen.id = id;
      seen.host = host;
      seen.action = doc.value("action", "");
      seen.state = state;
      if (auto e = doc.find("error"); e != doc.end() && e->is_string())
        seen.error = e->get<std::string>();
      finished_.push_back(std::move(seen));
    }
    for (auto id : done) {
      auto host = c.flying[id];
      c.flying.erase(id);
      c.busy.erase(host);
      c.state[host] = "";
      --in_flight_;
    }
    if (!worked && done.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ab::e2e
