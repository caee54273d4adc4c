#include "net/api/resources.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <caf/actor_pool.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "auth/authenticator.hpp"
#include "core/error.hpp"
#include "lifecycle/quotas.hpp"
#include "metrics/work_metrics.hpp"
#include "net/api/api.hpp"
#include "net/api/detail/reply_sink.hpp"
#include "net/api/error.hpp"
#include "net/api/finished_requests.hpp"

namespace ab::net {

namespace {

/// Rows a filtered listing reads from the store at most per call; past it the page comes back
/// short, with a cursor to go on from.
constexpr std::size_t scan_budget = 10000;

caf::error no_such_request(storage::request_id id) {
  return ab::make_error(errc::not_found, "request " + std::to_string(id) + " does not exist");
}

caf::error no_such_host(const std::string& name) {
  return ab::make_error(errc::not_found, "host '" + printable(name) + "' is not in the inventory");
}

caf::error denied(const auth::decision& d) {
  return ab::make_error(errc::forbidden, d.reason);
}

/// The rules and the store behind the store-backed resources; shared, read-only, by every
/// actor of the pool. Each call runs on the calling actor's own thread.
class resource_rules {
 public:
  resource_rules(std::shared_ptr<storage::store> store, const api_options& options)
      : store_(std::move(store)),
        options_(options),
        finished_(std::make_shared<finished_requests>(options.clock, options.finished_request_ms)) {
  }

  caf::expected<submit_reply> submit(const submit_call& c) const;
  /// Serves `calls` (no two name the same host) in one store transaction; should the store
  /// refuse that whole transaction, each call in one of its own, as if it came alone.
  std::vector<submit_batch_reply::result> submit_batch(const std::vector<submit_call>& calls) const;
  caf::expected<request_reply> request(const get_request_call& c) const;
  /// Serves `calls` with one read of the store for the requests not kept.
  std::vector<get_requests_reply::result> request_batch(
      const std::vector<get_request_call>& calls) const;
  caf::expected<request_page_reply> requests(const list_requests_call& c) const;
  caf::expected<cancel_reply> cancel(const cancel_call& c) const;
  caf::expected<queue_reply> queue(const queue_call& c) const;
  caf::expected<put_hosts_reply> put_hosts(const put_hosts_call& c) const;
  caf::expected<host_page_reply> hosts(const list_hosts_call& c) const;
  caf::expected<host_reply> host(const get_host_call& c) const;
  caf::expected<host_reply> patch(const patch_host_call& c) const;
  caf::expected<host_deleted> remove(const delete_host_call& c) const;
  caf::expected<audit_reply> audit(const audit_call& c) const;
  caf::expected<callback_reply> callback(const callback_call& c) const;
  bool ready() const { return !store_->ping(); }
  caf::expected<login_reply> login(const login_call& c) const;

 private:
  /// Writes into `specs` the completion each is estimated at now (those of the node's site).
  void stamp_estimates(std::vector<storage::request_spec>& specs) const;
  /// What a submission would do (`"dry_run": true`), written nowhere.
  caf::expected<submit_reply> dry_run(const submit_call& c) const;
  /// The caller's caps on a destructive action; none when the API is open.
  auth::caller_limits limits_of(const auth::identity& who, const std::string& action) const {
    if (!options_.auth) return {};
    return options_.auth->current()->limits_of(who, action);
  }
  std::int64_t confirm_above() const {
    return options_.auth ? options_.auth->current()->confirm_above()
                         : lifecycle::default_confirm_above;
  }
  time_ms now() const { return options_.clock ? options_.clock->now() : system_clock{}.now(); }
  /// The jobs of a submission: the lifecycle's rules for every host, in one place.
  using host_map = std::map<std::string, const storage::host_record*>;
  /// Why no node serves the call's action, or none.
  caf::error unserved(const submit_call& c) const;
  caf::expected<std::vector<storage::request_spec>> specs_for(const submit_call& c) const;
  /// The call's specs, its hosts looked up in `by_name` (what the inventory holds of them).
  caf::expected<std::vector<storage::request_spec>> specs_for(const submit_call& c,
                                                              const host_map& by_name) const;
  /// The reply to `c` from its outcomes: a single host's refusal is the call's error.
  caf::expected<submit_reply> reply_of(const submit_call& c,
                                       std::vector<storage::submit_outcome> outcomes) const;
  /// Whether the caller may do `what`; always when the API is open.
  auth::decision allowed(const auth::identity& who, const auth::operation& what) const {
    if (!options_.auth) return {true, "the API is open"};
    return options_.auth->authorize(who, what);
  }
  /// Where the caller may read: the sites and hosts of its `read` grants; all when open.
  auth::scope readable(const auth::identity& who) const {
    if (!options_.auth) return auth::scope::everything();
    return options_.auth->scope_of(who, "read");
  }
  /// The reach of all the caller's grants, whatever they allow; everything when open. What is
  /// outside is answered as if it did not exist.
  auth::scope reach(const auth::identity& who) const {
    if (!options_.auth) return auth::scope::everything();
    return options_.auth->scope_of(who, "");
  }
  /// The host (visible to `who`) named `name`.
  caf::expected<storage::host_record> visible_host(const auth::identity& who,
                                                   const std::string& name) const;
  /// The request (visible to `who`) with id `id`.
  caf::expected<storage::request_view> visible_request(const auth::identity& who,
                                                       storage::request_id id) const;
  /// What `who` may see of `r`, read for request `id`: not found when it is outside its reach.
  caf::expected<storage::request_view> visible(const auth::identity& who, storage::request_id id,
                                               caf::expected<storage::request_view> r) const;
  /// The reply to `c` from what `c.who` may see of its request.
  caf::expected<request_reply> reply_to(const get_request_call& c,
                                        caf::expected<storage::request_view> r) const;
  /// The refusal of a host that breaks `options_.validate_host`, or none.
  caf::error invalid_host(const storage::host_record& h) const;

  std::shared_ptr<storage::store> store_;
  api_options options_;
  /// Finished requests as last read: a GET of one costs no database work for a while.
  std::shared_ptr<finished_requests> finished_;
};

caf::expected<storage::request_view> resource_rules::visible_request(const auth::identity& who,
                                                                     storage::request_id id) const {
  auto kept = finished_->find(id);
  auto r = kept ? caf::expected<storage::request_view>{std::move(*kept)} : store_->request(id);
  if (r && !kept) finished_->keep(*r);
  return visible(who, id, std::move(r));
}

caf::expected<storage::request_view> resource_rules::visible(
    const auth::identity& who, storage::request_id id,
    caf::expected<storage::request_view> r) const {
  if (!r && is(r.error(), errc::not_found)) return no_such_request(id);
  if (!r) return r.error();
  // The caller's reach is checked on every call, kept or not.
  if (!reach(who).covers(r->site, r->host)) return no_such_request(id);
  return r;
}

caf::expected<storage::host_record> resource_rules::visible_host(const auth::identity& who,
                                                                 const std::string& name) const {
  auto h = store_->host(name);
  if (!h && is(h.error(), errc::not_found)) return no_such_host(name);
  if (!h) return h.error();
  // Existence is known only to a caller with some grant on the host.
  if (!reach(who).covers(h->site, name)) return no_such_host(name);
  return h;
}

caf::error resource_rules::invalid_host(const storage::host_record& h) const {
  if (!options_.validate_host) return {};
  auto why = options_.validate_host(h);
  if (!why) return {};
  return make_error(api_errc::invalid_host, "host '" + h.name + "': " + *why);
}

caf::error resource_rules::unserved(const submit_call& c) const {
  if (!options_.unserved) return {};
  if (auto why = options_.unserved(c.cmd.action))
    return make_error(api_errc::action_not_served, *why);
  return {};
}

caf::expected<std::vector<storage::request_spec>> resource_rules::specs_for(
    const submit_call& c) const {
  if (auto err = unserved(c)) return err;
  auto found = store_->find_hosts(c.cmd.hosts);
  if (!found) return found.error();
  host_map by_name;
  for (const auto& h : *found) by_name[h.name] = &h;
  return specs_for(c, by_name);
}

caf::expected<std::vector<storage::request_spec>> resource_rules::specs_for(
    const submit_call& c, const host_map& by_name) const {
  const auto& cmd = c.cmd;
  std::vector<storage::request_spec> specs;
  auto visible = reach(c.who);
  auto fp = c.idempotency_key.empty() ? "" : fingerprint(canonical_call(cmd));
  for (const auto& name : cmd.hosts) {
    auto it = by_name.find(name);
    // A host outside every grant of the caller is, to it, not in the inventory.
    if (it == by_name.end() || !visible.covers(it->second->site, name))
      return make_error(api_errc::unknown_host,
                        "host '" + printable(name) +
                            "' is not in the inventory; register it with POST /v1/hosts");
    const auto* h = it->second;
    // All or nothing: one host the caller may not touch refuses the whole submission.
    if (auto d = allowed(c.who, {cmd.action, h->site, name, cmd.priority_class}); !d.allowed)
      return denied(d);
    // The lifecycle's word: allowed in this state, by this BMC, and the chain it makes.
    auto plan = options_.rules->plan(cmd.action, *h);
    if (!plan) return plan.error();
    storage::request_spec s;
    s.action = cmd.action;
    s.host = name;
    s.site = h->site;
    s.priority_class = cmd.priority_class;
    s.submitter = c.who.name;
    s.idempotency_key = c.idempotency_key;
    s.fingerprint = fp;
    s.params = cmd.params;
    plan->apply_to(s);
    specs.push_back(std::move(s));
  }
  return specs;
}

caf::expected<submit_reply> resource_rules::dry_run(const submit_call& c) const {
  preflight_context ctx;
  ctx.store = store_.get();
  ctx.rules = options_.rules.get();
  ctx.who = &c.who;
  ctx.allowed = [&](const auth::operation& op) { return allowed(c.who, op); };
  auto visible = reach(c.who);
  ctx.visible = [&](const std::string& site, const std::string& host) {
    return visible.covers(site, host);
  };
  ctx.limits = limits_of(c.who, c.cmd.action);
  ctx.confirm_above = confirm_above();
  ctx.probe = options_.probe_host;
  ctx.cluster_of = options_.cluster_of;
  ctx.now = now();
  auto report = preflight(c.cmd, ctx);
  if (!report) return report.error();
  if (options_.unserved)
    if (auto why = options_.unserved(c.cmd.action)) {
      report->checks.push_back({"served", false, *why});
      report->accepted = false;
      for (auto& h : report->hosts) h.accepted = false;
    }
  submit_reply out;
  out.preflight = std::move(*report);
  return out;
}

caf::expected<submit_reply> resource_rules::reply_of(
    const submit_call& c, std::vector<storage::submit_outcome> outcomes) const {
  if (outcomes.size() == 1 && outcomes.front().what == storage::submit_outcome::status::host_busy)
    return ab::make_error(errc::host_busy, "host '" + c.cmd.hosts.front() +
                                               "' already has active request " +
                                               std::to_string(outcomes.front().id));
  if (outcomes.size() == 1 && outcomes.front().what == storage::submit_outcome::status::held)
    return ab::make_error(errc::host_held, outcomes.front().reason);
  if (outcomes.size() == 1 &&
      outcomes.front().what == storage::submit_outcome::status::key_conflict)
    return make_error(api_errc::idempotency_conflict,
                      "the Idempotency-Key was used before with another body");
  return submit_reply{std::move(outcomes), std::nullopt};
}

caf::expected<submit_reply> resource_rules::submit(const submit_call& c) const {
  if (c.cmd.dry_run) return dry_run(c);
  auto specs = specs_for(c);
  if (!specs) return specs.error();
  stamp_estimates(*specs);
  // Confirmation and quotas of a destructive call; the hourly quota is charged in the site
  // database before the requests are stored, and settled to what was stored.
  auto charge = admit_destructive(c.cmd, c.who, limits_of(c.who, c.cmd.action), confirm_above(),
                                  *store_, now());
  if (!charge) return charge.error();
  auto out = store_->submit(*specs);
  if (*charge) {
    std::int64_t created = 0;
    if (out)
      for (const auto& o : *out) created += o.what == storage::submit_outcome::status::created;
    if (created < static_cast<std::int64_t>(c.cmd.hosts.size()))
      if (auto err = store_->settle_quota(*charge, created))
        spdlog::warn("api: the quota charge {} of {} stays unsettled: {}", *charge, c.who.name,
                     message_of(err));
  }
  if (!out) return out.error();
  return reply_of(c, std::move(*out));
}

std::vector<submit_batch_reply::result> resource_rules::submit_batch(
    const std::vector<submit_call>& calls) const {
  std::vector<submit_batch_reply::result> out(calls.size());
  auto settle = [&](std::size_t i, caf::expected<submit_reply> r) {
    if (r)
      out[i].reply = std::move(*r);
    else
      out[i].error = std::move(r.error());
  };
  if (calls.size() == 1) {
    settle(0, submit(calls.front()));
    return out;
  }
  // One read of the inventory for every call. A dry run, and a destructive call (confirmed,
  // and charged to its caller's quota before it is stored), go on their own.
  std::vector<bool> open(calls.size(), true);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].cmd.dry_run || lifecycle::destructive(calls[i].cmd.action)) {
      settle(i, submit(calls[i]));
      open[i] = false;
      continue;
    }
    if (auto err = unserved(calls[i])) {
      out[i].error = std::move(err);
      open[i] = false;
      continue;
    }
    names.insert(names.end(), calls[i].cmd.hosts.begin(), calls[i].cmd.hosts.end());
  }
  auto found = store_->find_hosts(names);
  if (!found) {
    for (std::size_t i = 0; i < calls.size(); ++i)
      if (open[i]) out[i].error = found.error();
    return out;
  }
  host_map by_name;
  for (const auto& h : *found) by_name[h.name] = &h;
  std::vector<std::vector<storage::request_spec>> specs(calls.size());
  std::vector<storage::request_spec> all;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (!open[i]) continue;
    auto s = specs_for(calls[i], by_name);
    if (!s) {
      out[i].error = std::move(s.error());
      open[i] = false;
      continue;
    }
    specs[i] = std::move(*s);
    all.insert(all.end(), specs[i].begin(), specs[i].end());
  }
  if (all.empty()) return out;
  stamp_estimates(all);
  // One transaction for all; its outcomes come back in the order of `all`.
  if (auto done = store_->submit(all); done && done->size() == all.size()) {
    auto next = done->begin();
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (!open[i]) continue;
      auto end = next + static_cast<std::ptrdiff_t>(specs[i].size());
      settle(i, reply_of(calls[i], {std::make_move_iterator(next), std::make_move_iterator(end)}));
      next = end;
    }
    return out;
  }
  // The store refused the whole (a host that moved site or changed state meanwhile, a spec it
  // finds invalid, an outage): each call on its own, so that one call's refusal is only its own.
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (!open[i]) continue;
    auto done = store_->submit(specs[i]);
    settle(i,
           done ? reply_of(calls[i], std::move(*done)) : caf::expected<submit_reply>{done.error()});
  }
  return out;
}

caf::expected<request_reply> resource_rules::request(const get_request_call& c) const {
  return reply_to(c, visible_request(c.who, c.id));
}

std::vector<get_requests_reply::result> resource_rules::request_batch(
    const std::vector<get_request_call>& calls) const {
  std::map<storage::request_id, storage::request_view> read;
  std::vector<storage::request_id> wanted;
  for (const auto& c : calls) {
    if (read.count(c.id)) continue;
    if (auto kept = finished_->find(c.id))
      read.emplace(c.id, std::move(*kept));
    else
      wanted.push_back(c.id);
  }
  caf::error failed;
  if (!wanted.empty()) {
    auto views = store_->requests_by_id(wanted);
    if (views) {
      for (auto& v : *views) {
        finished_->keep(v);
        read.emplace(v.id, std::move(v));
      }
    } else {
      failed = std::move(views.error());
    }
  }
  std::vector<get_requests_reply::result> out;
  out.reserve(calls.size());
  for (const auto& c : calls) {
    auto it = read.find(c.id);
    caf::expected<storage::request_view> r =
        it != read.end() ? caf::expected<storage::request_view>{it->second}
        : failed         ? caf::expected<storage::request_view>{failed}
                         : make_error(errc::not_found, "no such request");
    auto reply = reply_to(c, std::move(r));
    if (reply)
      out.push_back({caf::error{}, std::move(*reply)});
    else
      out.push_back({std::move(reply.error()), {}});
  }
  return out;
}

caf::expected<request_reply> resource_rules::reply_to(
    const get_request_call& c, caf::expected<storage::request_view> found) const {
  auto r = visible(c.who, c.id, std::move(found));
  if (!r) return r.error();
  if (auto d = allowed(c.who, {"read", r->site, r->host, ""}); !d.allowed) return denied(d);
  auto why = options_.waiting_for ? options_.waiting_for(*r) : std::nullopt;
  auto eta = options_.eta ? options_.eta->estimate_of(*r) : std::nullopt;
  return request_reply{std::move(*r), std::move(why), std::move(eta)};
}

void resource_rules::stamp_estimates(std::vector<storage::request_spec>& specs) const {
  if (!options_.eta) return;
  // One place in the queue per action and class; the specs of a group follow one another.
  std::map<std::pair<std::string, std::string>, std::vector<storage::request_spec*>> groups;
  for (auto& s : specs)
    if (s.site == options_.eta->options().site) groups[{s.action, s.priority_class}].push_back(&s);
  for (auto& [key, members] : groups) {
    auto etas = options_.eta->estimate_new(key.first, key.second, members.size());
    for (std::size_t i = 0; i < etas.size() && i < members.size(); ++i)
      members[i]->eta_at = etas[i].at;
  }
}

caf::expected<queue_reply> resource_rules::queue(const queue_call& c) const {
  queue_reply out;
  if (!options_.eta) return out;
  out.site = options_.eta->options().site;
  if (auto d = allowed(c.who, {"read", out.site, "", ""}); !d.allowed) return denied(d);
  for (auto& line : options_.eta->queue()) {
    auto cluster =
        options_.cluster_of ? options_.cluster_of(line.action).value_or("") : std::string{};
    out.lines.push_back({std::move(cluster), std::move(line)});
  }
  return out;
}

/// The estimates of the items of `page` (empty when there is no board).
std::vector<std::optional<lifecycle::estimate>> estimates_of(lifecycle::eta_board* board,
                                                             const storage::request_page& page) {
  std::vector<std::optional<lifecycle::estimate>> out;
  if (!board) return out;
  for (const auto& r : page.items) out.push_back(board->estimate_of(r));
  return out;
}

caf::expected<request_page_reply> resource_rules::requests(const list_requests_call& c) const {
  auto f = c.filter;
  auto scope = readable(c.who);
  auto sites = scope.sites();
  if (sites) {
    // Literal sites: the store narrows the listing, and a site outside them has nothing.
    if (sites->empty() || (!f.site.empty() && !scope.covers_site(f.site)))
      return request_page_reply{};
    if (f.site.empty()) f.sites = *sites;
  }
  if (scope.covers_all() || (sites && scope.all_hosts())) {
    auto page = store_->requests(f);
    if (!page) return page.error();
    auto etas = estimates_of(options_.eta.get(), *page);
    return request_page_reply{std::move(*page), std::move(etas)};
  }
  // Host patterns (or site patterns): filter here, page by page, within a budget of rows.
  storage::request_page out;
  auto q = f;
  q.limit = std::max<std::size_t>(f.limit, 100);
  std::size_t scanned = 0;
  for (;;) {
    auto page = store_->requests(q);
    if (!page) return page.error();
    for (std::size_t i = 0; i < page->items.size(); ++i) {
      auto& r = page->items[i];
      ++scanned;
      if (!scope.covers(r.site, r.host)) continue;
      out.items.push_back(std::move(r));
      if (out.items.size() == f.limit) {
        if (i + 1 < page->items.size() || page->next_cursor) out.next_cursor = out.items.back().id;
        auto etas = estimates_of(options_.eta.get(), out);
        return request_page_reply{std::move(out), std::move(etas)};
      }
    }
    if (!page->next_cursor) break;
    if (scanned >= scan_budget) {
      out.next_cursor = page->next_cursor;
      break;
    }
    q.before = page->next_cursor;
  }
  auto etas = estimates_of(options_.eta.get(), out);
  return request_page_reply{std::move(out), std::move(etas)};
}

caf::expected<cancel_reply> resource_rules::cancel(const cancel_call& c) const {
  auto r = visible_request(c.who, c.id);
  if (!r) return r.error();
  if (auto d = allowed(c.who, {"cancel", r->site, r->host, ""}); !d.allowed) return denied(d);
  auto st = store_->cancel(c.id, "cancelled through the API by " + c.who.name);
  if (!st) return st.error();
  if (*st == storage::request_state::cancelled)
    metrics::request_counters::finished(r->action, r->priority_class, "cancelled");
  return cancel_reply{c.id, *st, r->host};
}

caf::expected<put_hosts_reply> resource_rules::put_hosts(const put_hosts_call& c) const {
  std::vector<std::string> names;
  for (const auto& h : c.hosts) {
    if (auto d = allowed(c.who, {"hosts.write", h.site, h.name, ""}); !d.allowed) return denied(d);
    names.push_back(h.name);
  }
  // Registering a known host changes it as PATCH does: the right on its present site too.
  auto known = store_->find_hosts(names);
  if (!known) return known.error();
  std::sort(known->begin(), known->end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  auto visible = reach(c.who);
  for (const auto& h : *known) {
    auto d = allowed(c.who, {"hosts.write", h.site, h.name, ""});
    if (d.allowed) continue;
    if (visible.covers(h.site, h.name)) return denied(d);
    // A host the caller may not see: its name is taken, and that is all it learns.
    return make_error(api_errc::name_taken,
                      "host name '" + printable(h.name) + "' is taken; choose another name");
  }
  for (const auto& h : c.hosts)
    if (auto e = invalid_host(h)) return e;
  // The store keeps a known host's lifecycle state and facts, and refuses (host_busy) to
  // change its site, endpoint or credential while it has an active request.
  if (auto err = store_->put_hosts(c.hosts)) return err;
  return put_hosts_reply{c.hosts.size()};
}

caf::expected<host_page_reply> resource_rules::hosts(const list_hosts_call& c) const {
  auto f = c.filter;
  auto scope = readable(c.who);
  auto sites = scope.sites();
  host_page_reply out;
  if (sites) {
    if (sites->empty() || (!f.site.empty() && !scope.covers_site(f.site))) return out;
    if (f.site.empty()) f.sites = *sites;
  }
  bool exact = scope.covers_all() || (sites && scope.all_hosts());
  // Below the store's own cap, so that a short answer always means the end.
  const auto limit = std::clamp<std::size_t>(f.limit, 1, 5000);
  auto q = f;
  // One row more than asked tells whether another page follows.
  q.limit = exact ? limit + 1 : std::max<std::size_t>(limit + 1, 100);
  std::size_t scanned = 0;
  for (;;) {
    auto hs = store_->hosts(q);
    if (!hs) return hs.error();
    for (auto& h : *hs) {
      ++scanned;
      if (!exact && !scope.covers(h.site, h.name)) continue;
      if (out.hosts.size() == limit) {
        out.next_after = out.hosts.back().name;
        return out;
      }
      out.hosts.push_back(std::move(h));
    }
    if (hs->size() < q.limit) break;
    if (scanned >= scan_budget) {
      out.next_after = hs->back().name;
      break;
    }
    q.after = hs->back().name;
  }
  return out;
}

caf::expected<host_reply> resource_rules::host(const get_host_call& c) const {
  auto h = visible_host(c.who, c.name);
  if (!h) return h.error();
  if (auto d = allowed(c.who, {"read", h->site, c.name, ""}); !d.allowed) return denied(d);
  return host_reply{std::move(*h)};
}

caf::expected<host_deleted> resource_rules::remove(const delete_host_call& c) const {
  auto h = visible_host(c.who, c.name);
  if (!h) return h.error();
  if (auto d = allowed(c.who, {"hosts.write", h->site, c.name, ""}); !d.allowed) return denied(d);
  auto err = store_->delete_host(c.name);
  if (err && is(err, errc::not_found)) return no_such_host(c.name);
  if (err) return err;
  return host_deleted{c.name};
}

caf::expected<host_reply> resource_rules::patch(const patch_host_call& c) const {
  auto h = visible_host(c.who, c.name);
  if (!h) return h.error();
  if (auto d = allowed(c.who, {"hosts.write", h->site, c.name, ""}); !d.allowed) return denied(d);
  auto changed = apply_changes(c.changes, *h);
  // Moving a host to another site needs the right on both.
  if (auto d = allowed(c.who, {"hosts.write", changed.site, c.name, ""}); !d.allowed)
    return denied(d);
  if (auto e = invalid_host(changed)) return e;
  // The store refuses (host_busy) a change of site, endpoint or credential under an active
  // request, in the same transaction as the change.
  if (auto err = store_->put_hosts({changed})) return err;
  auto now = store_->host(c.name);
  if (!now) return now.error();
  return host_reply{std::move(*now)};
}

caf::expected<audit_reply> resource_rules::audit(const audit_call& c) const {
  auto entries = store_->audit_log(c.filter);
  if (!entries) return entries.error();
  return audit_reply{std::move(*entries)};
}

caf::expected<callback_reply> resource_rules::callback(const callback_call& c) const {
  if (auto err = store_->redeem_callback(c.id, c.token_sha256, c.report.payload)) return err;
  if (options_.on_callback) options_.on_callback(c.id);
  return callback_reply{c.id, c.report.succeeded};
}

caf::expected<login_reply> resource_rules::login(const login_call& c) const {
  if (!options_.auth) return login_reply{{"anonymous", "none", {}, true}};
  auto who = options_.auth->authenticate(c.authorization);
  if (!who) return who.error();
  return login_reply{std::move(*who)};
}

/// The calls given to each store actor and not finished yet, so that the pool hands a call to
/// the least busy one: one actor whose thread the OS has put aside (or that runs a long bulk
/// call) does not hold up the calls queued behind it while the others idle.
struct load_board {
  using index_map = std::unordered_map<caf::actor_id, std::size_t>;
  explicit load_board(std::size_t n) : counts(n), index(std::make_shared<const index_map>()) {}
  std::vector<std::atomic<int>> counts;
  /// Actor id → index into `counts`; replaced whole (never changed in place) when a store
  /// actor takes the place of one that died.
  std::atomic<std::shared_ptr<const index_map>> index;
};

/// Marks one call of store actor `i` finished when it goes out of scope.
struct finished {
  finished(const std::shared_ptr<load_board>& b, std::size_t i) : board(b.get()), slot(i) {}
  finished(const finished&) = delete;
  finished& operator=(const finished&) = delete;
  ~finished() { board->counts[slot].fetch_sub(1, std::memory_order_relaxed); }
  load_board* board;
  std::size_t slot;
};

/// The pool's policy: the store actor with the fewest unfinished calls (the first idle one).
caf::actor_pool::policy least_busy(std::shared_ptr<load_board> board) {
  return [board](caf::actor_system&, caf::actor_pool::uplock& guard,
                 const caf::actor_pool::actor_vec& workers, caf::mailbox_element_ptr& ptr,
                 caf::execution_unit* host) {
    const caf::actor* best = nullptr;
    std::size_t best_slot = 0;
    int least = 0;
    auto index = board->index.load(std::memory_order_acquire);
    for (const auto& w : workers) {
      auto it = index->find(w.id());
      if (it == index->end()) continue;
      auto n = board->counts[it->second].load(std::memory_order_relaxed);
      if (!best || n < least) {
        best = &w;
        best_slot = it->second;
        least = n;
        if (n == 0) break;
      }
    }
    if (!best) {
      // No store actor right now (one is being replaced): the keeper, the pool's one other
      // member, answers the call with an error rather than leaving it unanswered.
      if (workers.empty()) return;
      auto keeper = workers.front();
      guard.unlock();
      keeper->enqueue(std::move(ptr), host);
      return;
    }
    board->counts[best_slot].fetch_add(1, std::memory_order_relaxed);
    auto target = *best;
    guard.unlock();
    target->enqueue(std::move(ptr), host);
  };
}

/// One detached actor of the pool: it owns its thread, and its store calls block only it.
api_store_actor::behavior_type store_worker(api_store_actor::pointer,
                                            std::shared_ptr<const resource_rules> rules,
                                            std::shared_ptr<load_board> board, std::size_t i) {
  return {
      [rules, board, i](const submit_call& c) -> caf::result<submit_reply> {
        finished done{board, i};
        return rules->submit(c);
      },
      [rules, board, i](const submit_batch_call& c) -> caf::result<submit_batch_reply> {
        finished done{board, i};
        return submit_batch_reply{rules->submit_batch(c.calls)};
      },
      [rules, board, i](const get_request_call& c) -> caf::result<request_reply> {
        finished done{board, i};
        return rules->request(c);
      },
      [rules, board, i](const get_requests_call& c) -> caf::result<get_requests_reply> {
        finished done{board, i};
        return get_requests_reply{rules->request_batch(c.calls)};
      },
      [rules, board, i](const list_requests_call& c) -> caf::result<request_page_reply> {
        finished done{board, i};
        return rules->requests(c);
      },
      [rules, board, i](const cancel_call& c) -> caf::result<cancel_reply> {
        finished done{board, i};
        return rules->cancel(c);
      },
      [rules, board, i](const queue_call& c) -> caf::result<queue_reply> {
        finished done{board, i};
        return rules->queue(c);
      },
      [rules, board, i](const put_hosts_call& c) -> caf::result<put_hosts_reply> {
        finished done{board, i};
        return rules->put_hosts(c);
      },
      [rules, board, i](const list_hosts_call& c) -> caf::result<host_page_reply> {
        finished done{board, i};
        return rules->hosts(c);
      },
      [rules, board, i](const get_host_call& c) -> caf::result<host_reply> {
        finished done{board, i};
        return rules->host(c);
      },
      [rules, board, i](const patch_host_call& c) -> caf::result<host_reply> {
        finished done{board, i};
        return rules->patch(c);
      },
      [rules, board, i](const delete_host_call& c) -> caf::result<host_deleted> {
        finished done{board, i};
        return rules->remove(c);
      },
      [rules, board, i](const audit_call& c) -> caf::result<audit_reply> {
        finished done{board, i};
        return rules->audit(c);
      },
      [rules, board, i](const callback_call& c) -> caf::result<callback_reply> {
        finished done{board, i};
        return rules->callback(c);
      },
      [rules, board, i](ready_atom) {
        finished done{board, i};
        return rules->ready();
      },
      [rules, board, i](const login_call& c) -> caf::result<login_reply> {
        finished done{board, i};
        return rules->login(c);
      },
  };
}

/// Spawns the store actor of slot `i` and enters it in the board's index.
caf::actor spawn_store_worker(caf::actor_system& sys,
                              const std::shared_ptr<const resource_rules>& rules,
                              const std::shared_ptr<load_board>& board, std::size_t i,
                              const std::optional<caf::actor_id>& replaces = std::nullopt) {
  auto worker = sys.spawn<caf::detached>(store_worker, rules, board, i);
  // Calls the dead one had taken will never finish: the slot starts again from zero.
  board->counts[i].store(0, std::memory_order_relaxed);
  auto index = std::make_shared<load_board::index_map>(*board->index.load());
  if (replaces) index->erase(*replaces);
  index->emplace(worker.id(), i);
  board->index.store(std::move(index), std::memory_order_release);
  return caf::actor_cast<caf::actor>(worker);
}

/// What the keeper needs to replace a store actor.
struct keeper_state {
  std::shared_ptr<const resource_rules> rules;
  std::shared_ptr<load_board> board;
  std::shared_ptr<std::atomic<std::int64_t>> restarts;
  /// Store actor → its slot.
  std::map<caf::actor_addr, std::size_t> slots;
  /// Weak: the pool holds the keeper.
  caf::actor_addr pool;
  static inline const char* name = "api_store_keeper";
};

/// Keeps the pool of store actors whole: it monitors each one and puts a fresh one in the place
/// of one that died (counted). It is a member of the pool itself, never chosen for a call while
/// a store actor is there, so that the pool does not end when its last store actor dies, and it
/// ends with the pool.
caf::behavior store_keeper(caf::stateful_actor<keeper_state>* self,
                           std::shared_ptr<const resource_rules> rules,
                           std::shared_ptr<load_board> board,
                           std::shared_ptr<std::atomic<std::int64_t>> restarts) {
  self->state.rules = std::move(rules);
  self->state.board = std::move(board);
  self->state.restarts = std::move(restarts);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto it = st.slots.find(msg.source);
    if (it == st.slots.end()) return;
    auto slot = it->second;
    st.slots.erase(it);
    // A store actor stopped with the pool is not replaced.
    auto pool = caf::actor_cast<caf::actor>(st.pool);
    if (!pool || !msg.reason || msg.reason == caf::exit_reason::user_shutdown) return;
    auto dead = msg.source.id();
    auto fresh = spawn_store_worker(self->system(), st.rules, st.board, slot, dead);
    self->monitor(fresh);
    st.slots.emplace(fresh.address(), slot);
    self->send(pool, caf::sys_atom::value, caf::put_atom::value, fresh);
    if (st.restarts) st.restarts->fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("api: store actor {} died ({}); a fresh one takes its place", slot,
                 message_of(msg.reason));
  });
  // A call that found no store actor (one was being replaced).
  self->set_default_handler(
      [](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        return ab::make_error(errc::unavailable, "no store actor is serving API calls right now");
      });
  return {
      // The pool and its store actors, once the pool exists.
      [self](const caf::actor& pool, const std::vector<caf::actor>& workers) {
        auto& st = self->state;
        st.pool = pool.address();
        for (std::size_t i = 0; i < workers.size(); ++i) {
          self->monitor(workers[i]);
          st.slots.emplace(workers[i].address(), i);
        }
      },
  };
}

}  // namespace

template <class Batching>
call_gatherer<Batching>::call_gatherer(caf::actor_system& sys, api_store_actor pool,
                                       std::size_t most,
                                       std::shared_ptr<std::atomic<std::int64_t>> batches)
    : sys_(sys),
      pool_(std::move(pool)),
      most_(std::max<std::size_t>(most, 1)),
      batches_(std::move(batches)) {}

template <class Batching>
void call_gatherer<Batching>::serve(call_type call, callback done) {
  std::vector<batch> ready;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    queue_.push_back({std::move(call), std::move(done)});
    ready = take_batches();
  }
  // Sent outside the lock: a pool that is gone answers at once, in this thread.
  for (auto& b : ready) send(std::move(b));
}

template <class Batching>
std::vector<typename call_gatherer<Batching>::batch> call_gatherer<Batching>::take_batches() {
  std::vector<batch> out;
  while (out_ < most_ && !queue_.empty()) {
    // From the oldest on, skipping a call that shares a key with this batch or one out: it
    // waits (for a submission: in one transaction a second call for a host would not see the
    // first).
    batch b;
    std::set<std::string> keys;
    std::size_t weight = 0;
    for (auto it = queue_.begin(); it != queue_.end() && weight < Batching::most_weight;) {
      const auto& mine = Batching::keys(it->call);
      auto w = Batching::weight(it->call);
      bool clash = std::any_of(mine.begin(), mine.end(), [&](const std::string& k) {
        return keys.count(k) > 0 || busy_.count(k) > 0;
      });
      if (clash || (!b.calls.empty() && weight + w > Batching::most_weight)) {
        ++it;
        continue;
      }
      keys.insert(mine.begin(), mine.end());
      weight += w;
      b.calls.push_back(std::move(it->call));
      b.dones.push_back(std::move(it->done));
      it = queue_.erase(it);
    }
    if (b.calls.empty()) break;
    b.keys.assign(keys.begin(), keys.end());
    busy_.insert(keys.begin(), keys.end());
    ++out_;
    out.push_back(std::move(b));
  }
  return out;
}

template <class Batching>
void call_gatherer<Batching>::finished(const std::vector<std::string>& keys) {
  std::vector<batch> ready;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    --out_;
    for (const auto& k : keys) busy_.erase(busy_.find(k));
    ready = take_batches();
  }
  for (auto& b : ready) send(std::move(b));
}

namespace {

/// Tells the gatherer that a batch is back when it goes: answered, or dropped unanswered.
struct batch_back {
  batch_back(std::vector<std::string> k, std::function<void(const std::vector<std::string>&)> f)
      : keys(std::move(k)), finished(std::move(f)) {}
  std::vector<std::string> keys;
  std::function<void(const std::vector<std::string>&)> finished;
  batch_back(const batch_back&) = delete;
  batch_back& operator=(const batch_back&) = delete;
  ~batch_back() { finished(keys); }
};

}  // namespace

template <class Batching>
void call_gatherer<Batching>::send(batch b) {
  using batch_reply = typename Batching::batch_reply;
  if (batches_) batches_->fetch_add(1, std::memory_order_relaxed);
  auto self = this->shared_from_this();
  auto back = std::make_shared<batch_back>(
      std::move(b.keys), [self](const std::vector<std::string>& k) { self->finished(k); });
  detail::request_to_sink(
      sys_, caf::actor_cast<caf::strong_actor_ptr>(pool_),
      caf::make_message(typename Batching::batch_call{std::move(b.calls)}),
      [dones = std::move(b.dones), back = std::move(back)](caf::message&& m) mutable {
        if (m.match_elements<batch_reply>()) {
          auto& r = m.get_mutable_as<batch_reply>(0);
          for (std::size_t i = 0; i < dones.size(); ++i) {
            if (i >= r.results.size())
              dones[i](make_error(errc::store_failure,
                                  std::string{"a "} + Batching::what + " batch came back short"));
            else if (r.results[i].error)
              dones[i](std::move(r.results[i].error));
            else
              dones[i](std::move(r.results[i].reply));
          }
        } else {
          auto err = m.match_elements<caf::error>()
                         ? m.get_as<caf::error>(0)
                         : make_error(errc::store_failure, std::string{"unexpected reply to a "} +
                                                               Batching::what + " batch");
          for (auto& d : dones) d(err);
        }
        // Free its keys now rather than when the sink goes.
        back.reset();
      });
}

template class call_gatherer<submit_batching>;
template class call_gatherer<read_batching>;

void api_resources::stop() const {
  if (pool) caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  if (node) caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  if (cluster_map) caf::anon_send_exit(cluster_map, caf::exit_reason::user_shutdown);
  if (safety) caf::anon_send_exit(safety, caf::exit_reason::user_shutdown);
  if (waves) caf::anon_send_exit(waves, caf::exit_reason::user_shutdown);
}

api_resources spawn_api_resources(caf::actor_system& sys, std::shared_ptr<storage::store> store,
                                  const api_options& options, node_actor node) {
  auto rules = std::make_shared<const resource_rules>(std::move(store), options);
  const auto n = std::max<std::size_t>(options.store_actors, 1);
  auto board = std::make_shared<load_board>(n);
  auto keeper = sys.spawn(store_keeper, rules, board, options.store_restarts);
  std::vector<caf::actor> workers;
  // The keeper first: it answers a call that finds no store actor (`least_busy`).
  std::size_t next = 0;
  auto factory = [&] {
    if (next++ == 0) return keeper;
    auto w = spawn_store_worker(sys, rules, board, next - 2);
    workers.push_back(w);
    return w;
  };
  auto pool = caf::actor_pool::make(sys.dummy_execution_unit(), n + 1, factory, least_busy(board));
  caf::anon_send(keeper, pool, std::move(workers));
  auto typed = caf::actor_cast<api_store_actor>(pool);
  api_resources out;
  out.requests = typed;
  out.hosts = typed;
  out.audit = typed;
  out.callbacks = typed;
  out.chores = typed;
  out.node = std::move(node);
  out.pool = pool;
  // As many batches out as store actors: each has one to serve while the next gathers.
  out.submits = std::make_shared<submit_gatherer>(sys, typed, n, options.submit_batches);
  out.reads = std::make_shared<read_gatherer>(sys, typed, n, options.read_batches);
  return out;
}

}  // namespace ab::net
