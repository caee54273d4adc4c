#include "e2e/collect.hpp"

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "harness/http_exchange.hpp"
#include "storage/store.hpp"

namespace ab::e2e {

namespace {

using json = nlohmann::json;

caf::error collect_site(const site_source& site, run_records& out) {
  storage::store_options o;
  o.url = site.store_url;
  o.pool_size = 2;
  auto opened = storage::open_store(o, std::make_shared<system_clock>());
  if (!opened)
    return make_error(errc::store_unavailable,
                      "site " + site.name + ": opening its store: " + message_of(opened.error()));
  auto& db = **opened;
  // Every request, newest first, a page at a time; then each one with its jobs.
  storage::request_filter filter;
  filter.limit = 1000;
  std::vector<storage::request_id> ids;
  for (;;) {
    auto page = db.requests(filter);
    if (!page)
      return make_error(errc::store_failure,
                        "site " + site.name + ": listing requests: " + message_of(page.error()));
    for (const auto& r : page->items) ids.push_back(r.id);
    if (page->next_cursor == 0 || page->items.empty()) break;
    filter.before = page->next_cursor;
  }
  for (auto id : ids) {
    auto r = db.request(id);
    if (!r)
      return make_error(errc::store_failure, "site " + site.name + ": reading request " +
                                                 std::to_string(id) + ": " + message_of(r.error()));
    request_record q{r->id,    r->host,       r->action,      storage::to_string(r->state),
                     r->error, r->created_at, r->finished_at, {}};
    for (const auto& j : r->jobs)
      q.jobs.push_back({j.id, j.position, j.type, storage::to_string(j.state), j.attempts,
                        j.started_at, j.finished_at});
    out.requests.push_back(std::move(q));
  }
  storage::audit_filter af;
  af.limit = 1000;
  auto& found = out.audit_found[site.name];
  for (;;) {
    auto page = db.audit_log(af);
    if (!page)
      return make_error(errc::store_failure,
                        "site " + site.name + ": reading the audit: " + message_of(page.error()));
    for (const auto& e : *page) found.emplace_back(e.action, e.target);
    if (page->size() < af.limit) break;
    af.before = page->back().id;
  }
  return {};
}

}  // namespace

caf::error collect_bmc_actions(int port, run_records& out) {
  auto r = harness::http_exchange(port, "GET", "/sim/actions");
  auto doc = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !doc.is_object() || !doc["bmcs"].is_object())
    return make_error(errc::unavailable, "ab-bmcsim on port " + std::to_string(port) +
                                             ": GET /sim/actions answered " +
                                             std::to_string(r.status));
  for (const auto& [bmc, actions] : doc["bmcs"].items()) {
    auto& list = out.bmc_actions[bmc];
    for (const auto& a : actions)
      list.push_back({a.value("at", std::int64_t{0}), a.value("kind", ""), a.value("detail", ""),
                      a.value("job", "")});
  }
  return {};
}

caf::error collect(const std::vector<site_source>& sites, run_records& out) {
  for (const auto& s : sites) {
    if (auto err = collect_site(s, out)) return err;
    if (auto err = collect_bmc_actions(s.bmcsim_port, out)) return err;
  }
  return {};
}

}  // namespace ab::e2e
