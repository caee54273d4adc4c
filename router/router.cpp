#include "router/router.hpp"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <variant>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "cluster/heartbeat.hpp"
#include "core/error.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/metrics.hpp"
#include "metrics/router_metrics.hpp"
#include "net/api/api.hpp"
#include "net/api/codec.hpp"
#include "net/api/detail/reply_sink.hpp"
#include "net/api/error.hpp"
#include "net/api/forwarded.hpp"
#include "router/split.hpp"
#include "web/ui.hpp"

namespace ab::router {

namespace {

using json = nlohmann::json;
using net::http_response;
using net::responder;

http_response error(int status, const std::string& code, const std::string& message,
                    int retry_after = 0) {
  return net::error_response({status, code, message, retry_after});
}

http_response overloaded() {
  static const http_response answer =
      error(429, "overloaded", "this router is at its limit of calls in flight; retry shortly", 1);
  return answer;
}

using net::address_of;

/// A new idempotency key for a submission that came without one.
std::string new_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  static const char* digits = "0123456789abcdef";
  std::string out = "router-";
  for (auto b : raw) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

/// `query` without its `site=` parameters.
std::string without_site(const std::string& query) {
  std::string out;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    auto part = query.substr(start, end - start);
    if (!part.empty() && part.rfind("site=", 0) != 0 && part != "site")
      out += (out.empty() ? "" : "&") + part;
    start = end + 1;
  }
  return out;
}

/// Splits `/v1/a/b` into its segments.
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// Frees a place among the calls in flight when the call's last responder copy goes.
struct in_flight_slot {
  explicit in_flight_slot(std::shared_ptr<std::atomic<std::size_t>> c) : count(std::move(c)) {}
  in_flight_slot(const in_flight_slot&) = delete;
  in_flight_slot& operator=(const in_flight_slot&) = delete;
  ~in_flight_slot() { count->fetch_sub(1, std::memory_order_relaxed); }
  std::shared_ptr<std::atomic<std::size_t>> count;
};

std::shared_ptr<in_flight_slot> admit(const std::shared_ptr<std::atomic<std::size_t>>& count,
                                      std::size_t limit) {
  auto now = count->load(std::memory_order_relaxed);
  do {
    if (now >= limit) return nullptr;
  } while (!count->compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return std::make_shared<in_flight_slot>(count);
}

/// Calls in flight per client address.
struct client_counts {
  std::mutex mutex;
  std::unordered_map<std::string, std::size_t> in_flight;
};

/// A client's place among its calls in flight, freed with the call's last responder copy.
struct client_slot {
  client_slot(std::shared_ptr<client_counts> c, std::string a)
      : counts(std::move(c)), address(std::move(a)) {}
  client_slot(const client_slot&) = delete;
  client_slot& operator=(const client_slot&) = delete;
  ~client_slot() {
    std::lock_guard<std::mutex> guard{counts->mutex};
    auto it = counts->in_flight.find(address);
    if (it != counts->in_flight.end() && --it->second == 0) counts->in_flight.erase(it);
  }
  std::shared_ptr<client_counts> counts;
  std::string address;
};

std::shared_ptr<client_slot> admit_client(const std::shared_ptr<client_counts>& counts,
                                          const std::string& address, std::size_t limit) {
  {
    std::lock_guard<std::mutex> guard{counts->mutex};
    auto& n = counts->in_flight[address];
    if (n >= limit) return nullptr;
    ++n;
  }
  return std::make_shared<client_slot>(counts, address);
}

/// Header fields passed from the caller to the node (names as the node sees them).
constexpr std::pair<const char*, const char*> forwarded_in[] = {
    {"authorization", "Authorization"},
    {"content-type", "Content-Type"},
    {"idempotency-key", "Idempotency-Key"},
    {"x-callback-token", "X-Callback-Token"},
    {"accept", "Accept"},
};

/// Header fields passed from the node's answer to the caller.
bool forwarded_out(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "retry-after" || name == "www-authenticate" || name == "allow" ||
         name == "location" || name == "idempotency-key" || name == "x-ab-node" ||
         name == "x-ab-node-version";
}

std::shared_ptr<spdlog::logger> log() {
  static auto logger = [] {
    auto l = spdlog::get("router");
    return l ? l : spdlog::default_logger()->clone("router");
  }();
  return logger;
}

/// What a host's site is, as the resolution found it, or the answer that ends the call.
struct resolution {
  std::map<std::string, std::string> site_of;
  std::optional<http_response> refusal;
};

/// How an unknown host is answered: as a submission's (422) or a host call's (404).
enum class unknown_as { submission, host_call };

/// The routes the router's HTTP metrics know: its own and the node API's it proxies.
std::vector<std::string> metric_routes() {
  auto out = router_service::own_routes();
  out.push_back("GET /metrics");
  for (auto& r : net::api_service::routes())
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(std::move(r));
  return out;
}

/// Whether `presented` is `expected`, in time that depends on neither (both are hashed first).
bool same_token(const std::string& presented, const std::string& expected) {
  auto a = auth::sha256_hex(presented), b = auth::sha256_hex(expected);
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0 && a.size() == b.size();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct router_service::impl : std::enable_shared_from_this<impl> {
  impl(caf::actor_system& s, node_table_actor t, std::shared_ptr<table_board> b,
       std::shared_ptr<node_client> c, router_options o, std::shared_ptr<router_counters> n)
      : sys(s),
        table(std::move(t)),
        board(std::move(b)),
        client(std::move(c)),
        options(std::move(o)),
        counters(std::move(n)),
        clock(options.clock ? options.clock : std::make_shared<system_clock>()),
        cache(options.host_cache_ms, 100000, clock),
        in_flight(std::make_shared<std::atomic<std::size_t>>(0)),
        clients(std::make_shared<client_counts>()),
        trusted_proxies(options.trusted_proxies),
        heartbeat_secret(std::make_shared<const std::string>(options.heartbeat_secret)),
        metrics_token(std::make_shared<const std::string>(options.metrics_token)),
        auth_failures(options.failures, clock),
        http_metrics("router", metric_routes()) {}

  caf::actor_system& sys;
  node_table_actor table;
  std::shared_ptr<table_board> board;
  std::shared_ptr<node_client> client;
  router_options options;
  std::shared_ptr<router_counters> counters;
  std::shared_ptr<const ab::clock> clock;
  site_cache cache;
  std::shared_ptr<std::atomic<std::size_t>> in_flight;
  std::shared_ptr<client_counts> clients;
  ip_networks trusted_proxies;
  /// Swapped whole on a reload; each heartbeat reads the one in use.
  std::atomic<std::shared_ptr<const std::string>> heartbeat_secret;
  /// The scraper's token in use (`options.metrics_token` until a reload).
  std::atomic<std::shared_ptr<const std::string>> metrics_token;
  /// Failed authentications at `GET /v1/cluster`, per source.
  net::failure_limiter auth_failures;
  metrics::http_metrics http_metrics;
  metrics::router_metrics router_metrics;

  /// Asks the node table; `f` gets the reply or the error, in the table's thread.
  template <class Reply, class F, class... Ts>
  void ask(F f, Ts&&... xs) {
    net::detail::request_to_sink(
        sys, caf::actor_cast<caf::strong_actor_ptr>(table),
        caf::make_message(std::forward<Ts>(xs)...), [f = std::move(f)](caf::message&& m) mutable {
          if (m.match_elements<Reply>())
            f(caf::expected<Reply>{std::move(m.get_mutable_as<Reply>(0))});
          else if (m.match_elements<caf::error>())
            f(caf::expected<Reply>{m.get_as<caf::error>(0)});
          else
            f(caf::expected<Reply>{make_error(errc::unavailable, "unexpected node table reply")});
        });
  }

  /// The call as the node gets it: the caller's fields that matter, and who the caller is.
  outgoing_call outgoing(const net::http_request& req, std::string target, std::string body) const {
    outgoing_call out{req.method, std::move(target), std::move(body), {}};
    for (const auto& [in, name] : forwarded_in)
      if (auto it = req.headers.find(in); it != req.headers.end())
        out.headers.emplace_back(name, it->second);
    // The client as the router sees it (through a trusted load balancer: the one it named),
    // replacing whatever the client claimed.
    out.headers.emplace_back("X-Forwarded-For", net::client_address(req, trusted_proxies));
    return out;
  }

  /// Sends `call` to a live node of `site`, another one of the site at once when a node
  /// cannot be reached (nothing was sent), and hands over what came of it. The pick reads the
  /// board's snapshot in the calling thread: no message to the table's actor per call.
  void to_site(const std::string& site, std::shared_ptr<const outgoing_call> call,
               std::function<void(call_result)> done, std::vector<std::string> tried = {}) {
    auto choice = board->pick(site, tried);
    if (!choice) {
      call_result r;
      r.what = call_result::outcome::unreachable;
      r.status = 0;
      r.detail = tried.empty() ? "no live node of site " + site
                               : "no node of site " + site + " could be reached";
      return done(std::move(r));
    }
    auto self = shared_from_this();
    auto url = choice->api_url;
    auto protocol = choice->protocol >= 2 ? choice->protocol : 0;
    // A site the table knows: its series are bounded by the deployment's sites.
    auto* series = &router_metrics.site(site);
    client->send(
        url, call,
        [self, site, choice = std::move(*choice), call, done = std::move(done),
         tried = std::move(tried), series,
         t0 = std::chrono::steady_clock::now()](call_result r) mutable {
          table_board::release(choice);
          using o = call_result::outcome;
          // 421: the node does not speak the protocol of this call (it changed
          // release since its last heartbeat) and did nothing.
          if (r.what == o::answered && r.status == 421) {
            r.what = o::refused;
            r.detail =
                "node " + choice.node_id + " refused protocol " + std::to_string(choice.protocol);
          }
          if (r.what == o::refused || r.what == o::unreachable || r.what == o::bad_url) {
            log()->info("site {}: {}; trying another node", site, r.detail);
            self->board->refused(choice);
            ++self->counters->failovers;
            series->failovers->Increment();
            tried.push_back(choice.key);
            return self->to_site(site, std::move(call), std::move(done), std::move(tried));
          }
          series->proxied(r.what == o::answered ? r.status
                          : r.what == o::busy   ? 429
                                                : 502,
                          seconds_since(t0));
          done(std::move(r));
        },
        protocol);
  }

  void to_site(const std::string& site, outgoing_call call, std::function<void(call_result)> done) {
    to_site(site, std::make_shared<const outgoing_call>(std::move(call)), std::move(done));
  }

  /// The caller's answer to what came of a proxied call.
  static http_response answer_of(const std::string& site, call_result r,
                                 const std::string& key = {}) {
    using o = call_result::outcome;
    http_response out;
    switch (r.what) {
      case o::answered: {
        out.status = r.status;
        out.content_type.clear();
        for (auto& [name, value] : r.headers) {
          if (name.size() == 12 && strcasecmp(name.c_str(), "content-type") == 0)
            out.content_type = value;
          else if (forwarded_out(name))
            out.headers.emplace_back(name, value);
        }
        out.body = std::move(r.body);
        break;
      }
      case o::busy:
        out = overloaded();
        break;
      case o::lost:
        out = error(
            502, "node_lost",
            "a node of site " + site + " took the call but gave no whole answer (" + r.detail +
                ")" +
                (key.empty() ? std::string{}
                             : "; it may have been accepted: retry with Idempotency-Key " + key));
        break;
      default:
        out = error(503, "site_unavailable", r.detail, 5);
        break;
    }
    if (!key.empty()) {
      bool has = false;
      for (const auto& [name, value] : out.headers)
        has = has || strcasecmp(name.c_str(), "idempotency-key") == 0;
      if (!has) out.headers.emplace_back("Idempotency-Key", key);
    }
    return out;
  }

  /// Finds the site of every host of a call, in order: `explicit_site`, the cache, the sites'
  /// inventories (asked with the caller's own credentials), the hostname rules.
  void resolve(const net::http_request& req, std::vector<std::string> hosts,
               std::optional<std::string> explicit_site, unknown_as as,
               std::function<void(resolution)> done) {
    resolution out;
    if (explicit_site) {
      for (const auto& h : hosts) out.site_of[h] = *explicit_site;
      return done(std::move(out));
    }
    std::vector<std::string> unknown;
    std::set<std::string> seen;
    for (const auto& h : hosts) {
      if (!seen.insert(h).second) continue;
      if (auto s = cache.find(h))
        out.site_of[h] = *s;
      else
        unknown.push_back(h);
    }
    if (unknown.empty()) return done(std::move(out));
    auto self = shared_from_this();
    auto probe = outgoing(req, "", "");
    probe.method = "GET";
    probe.body.clear();
    std::erase_if(probe.headers, [](const auto& h) {
      return h.first == "Content-Type" || h.first == "Idempotency-Key" ||
             h.first == "X-Callback-Token";
    });
    look_up(board->live_sites(), std::move(unknown), std::move(out), std::move(probe), as,
            std::move(done));
  }

  /// The inventory look-ups of `resolve`: every unknown host at every live site, a bounded
  /// number at a time.
  void look_up(std::vector<std::string> sites, std::vector<std::string> hosts, resolution out,
               outgoing_call probe, unknown_as as, std::function<void(resolution)> done) {
    struct state {
      std::mutex mutex;
      std::vector<std::string> sites, hosts;
      outgoing_call probe;
      resolution out;
      std::function<void(resolution)> done;
      unknown_as as;
      std::size_t next = 0, running = 0;
      /// Per host: sites that hold it (with the site its record names), sites that did not
      /// answer.
      std::map<std::string, std::vector<std::pair<std::string, std::string>>> found;
      std::map<std::string, std::vector<std::string>> unanswered;
      std::size_t pending_hosts = 0;
      bool finished = false;
    };
    auto st = std::make_shared<state>();
    st->sites = std::move(sites);
    st->hosts = std::move(hosts);
    st->probe = std::move(probe);
    st->out = std::move(out);
    st->done = std::move(done);
    st->as = as;
    st->pending_hosts = st->hosts.size();
    auto self = shared_from_this();
    // Decides one host once every site answered for it; the last one ends the resolution.
    auto decide = [self, st](const std::string& host) {
      auto& found = st->found[host];
      std::optional<std::string> site;
      if (found.size() > 1) {
        std::vector<std::string> own;
        for (const auto& [at, named] : found)
          if (at == named) own.push_back(at);
        if (own.size() != 1) {
          std::string names;
          for (const auto& [at, named] : found) names += (names.empty() ? "" : ", ") + at;
          if (!st->out.refusal)
            st->out.refusal = error(409, "ambiguous_site",
                                    "host '" + net::printable(host) + "' is in the inventory of " +
                                        names + "; name the site with site=");
          return;
        }
        site = own.front();
      } else if (found.size() == 1) {
        site = found.front().first;
      }
      if (site) {
        self->cache.put(host, *site);
      } else {
        site = self->options.rules.site_of(host);
      }
      if (site) {
        st->out.site_of[host] = *site;
        return;
      }
      if (st->out.refusal) return;
      if (!st->unanswered[host].empty()) {
        std::string names;
        for (const auto& s : st->unanswered[host]) names += (names.empty() ? "" : ", ") + s;
        st->out.refusal = error(503, "site_unavailable",
                                "cannot tell the site of host '" + net::printable(host) +
                                    "': no answer from site " + names,
                                5);
      } else if (st->sites.empty()) {
        st->out.refusal =
            error(503, "site_unavailable",
                  "no live node of any site to look host '" + net::printable(host) + "' up", 5);
      } else if (st->as == unknown_as::submission) {
        st->out.refusal = error(422, "unknown_host",
                                "host '" + net::printable(host) +
                                    "' is not in the inventory; register it with POST /v1/hosts");
      } else {
        st->out.refusal =
            error(404, "not_found", "host '" + net::printable(host) + "' is not in the inventory");
      }
    };
    // Starts look-ups while there is room; each host asks every site at once.
    auto pump = std::make_shared<std::function<void()>>();
    *pump = [self, st, decide, weak = std::weak_ptr<std::function<void()>>(pump)] {
      std::vector<std::string> start;
      std::optional<resolution> finish;
      {
        std::lock_guard<std::mutex> guard{st->mutex};
        while (st->running < self->options.lookup_parallelism && st->next < st->hosts.size() &&
               !st->out.refusal) {
          start.push_back(st->hosts[st->next++]);
          ++st->running;
        }
        if (!st->finished && st->running == 0 &&
            (st->pending_hosts == 0 || st->out.refusal || st->sites.empty())) {
          if (st->sites.empty())
            for (; st->next < st->hosts.size(); ++st->next) decide(st->hosts[st->next]);
          st->finished = true;
          finish = std::move(st->out);
        }
      }
      if (finish) return st->done(std::move(*finish));
      for (const auto& host : start) {
        auto left = std::make_shared<std::size_t>(st->sites.size());
        for (const auto& site : st->sites) {
          auto call = st->probe;
          call.target = "/v1/hosts/" + host;
          self->to_site(site, std::move(call),
                        [self, st, decide, weak, host, site, left](call_result r) {
                          auto again = weak.lock();
                          {
                            std::lock_guard<std::mutex> guard{st->mutex};
                            if (r.what == call_result::outcome::answered && r.status == 200) {
                              auto doc = json::parse(r.body, nullptr, false);
                              std::string named =
                                  doc.is_object() && doc.contains("site") && doc["site"].is_string()
                                      ? doc["site"].get<std::string>()
                                      : site;
                              st->found[host].emplace_back(site, named);
                            } else if (r.what != call_result::outcome::answered ||
                                       r.status >= 500 || r.status == 429) {
                              st->unanswered[host].push_back(site);
                            }
                            if (--*left != 0) return;
                            decide(host);
                            --st->running;
                            --st->pending_hosts;
                          }
                          if (again) (*again)();
                        });
        }
      }
    };
    // The pump lives as long as a look-up can still call it.
    st->done = [keep = pump, done = std::move(st->done)](resolution r) mutable {
      auto d = std::move(done);
      keep.reset();
      d(std::move(r));
    };
    (*pump)();
  }

  /// A live site when the call names none and only one site has live nodes; otherwise the
  /// answer saying so.
  std::variant<std::string, http_response> sole_site() const {
    std::size_t count = 0;
    if (auto one = board->sole_live_site(count)) return std::move(*one);
    if (count == 0) return error(503, "site_unavailable", "no live node of any site", 5);
    std::string names;
    for (const auto& s : board->live_sites()) names += (names.empty() ? "" : ", ") + s;
    return error(400, "site_required",
                 "this call is answered by one site: add site= (live sites: " + names + ")");
  }

  /// Proxies `req` to `site` (or the sole live site when none is named).
  void proxy(const std::optional<std::string>& site, net::http_request req, std::string target,
             std::string body, responder respond, std::string key = {}) {
    auto self = shared_from_this();
    auto call = outgoing(req, std::move(target), std::move(body));
    if (!key.empty() && !req.headers.count("idempotency-key"))
      call.headers.emplace_back("Idempotency-Key", key);
    std::string to;
    if (site) {
      to = *site;
    } else {
      auto sole = sole_site();
      if (auto* no = std::get_if<http_response>(&sole)) return respond(std::move(*no));
      to = std::get<std::string>(std::move(sole));
    }
    to_site(to, std::move(call), [to, respond = std::move(respond), key](call_result r) {
      respond(answer_of(to, std::move(r), key));
    });
  }

  /// Sends the parts of a split call, one per site, and hands the outcomes over in order.
  void parts(const net::http_request& req, const std::string& target,
             std::vector<std::pair<std::string, std::vector<std::string>>> groups,
             std::vector<std::string> bodies, const std::string& key,
             std::function<void(std::vector<part_outcome>)> done) {
    struct state {
      std::mutex mutex;
      std::vector<part_outcome> parts;
      std::size_t left = 0;
      std::function<void(std::vector<part_outcome>)> done;
    };
    auto st = std::make_shared<state>();
    st->left = groups.size();
    st->done = std::move(done);
    for (auto& [site, hosts] : groups) st->parts.push_back({site, hosts, 0, {}});
    for (std::size_t i = 0; i < groups.size(); ++i) {
      auto call = outgoing(req, target, std::move(bodies[i]));
      if (!key.empty() && !req.headers.count("idempotency-key"))
        call.headers.emplace_back("Idempotency-Key", key);
      auto site = groups[i].first;
      to_site(site, std::move(call), [st, i, site, key](call_result r) {
        auto a = answer_of(site, std::move(r), key);
        std::vector<part_outcome> all;
        {
          std::lock_guard<std::mutex> guard{st->mutex};
          st->parts[i].status = a.status;
          st->parts[i].body = std::move(a.body);
          if (--st->left != 0) return;
          all = std::move(st->parts);
        }
        st->done(std::move(all));
      });
    }
  }

  void submit(net::http_request req, const std::string& query_site, responder respond) {
    auto read = read_submission(req.body);
    if (auto* e = std::get_if<net::api_error>(&read)) return respond(net::error_response(*e));
    auto s = std::get<submission>(std::move(read));
    if (!query_site.empty()) {
      if (s.site && *s.site != query_site)
        return respond(error(400, "invalid_site", "site= and the body's 'site' differ"));
      s.site = query_site;
    }
    std::string key;
    if (auto it = req.headers.find("idempotency-key"); it != req.headers.end())
      key = it->second;
    else
      key = new_key();
    if (s.hosts.empty()) {
      // Not a submission the router can route by host: the node's answer says what is wrong.
      auto body = s.doc.is_object() ? s.doc.dump() : req.body;
      return proxy(s.site, std::move(req), "/v1/requests", std::move(body), std::move(respond),
                   key);
    }
    auto self = shared_from_this();
    auto hosts = s.hosts;
    auto site = s.site;
    auto keep = std::make_shared<net::http_request>(std::move(req));
    resolve(*keep, hosts, site, unknown_as::submission,
            [self, keep, s = std::move(s), respond, key](resolution r) {
              if (r.refusal) return respond(std::move(*r.refusal));
              std::vector<std::pair<std::string, std::vector<std::string>>> groups;
              for (const auto& h : s.hosts) {
                const auto& site = r.site_of.at(h);
                auto it = std::find_if(groups.begin(), groups.end(),
                                       [&](const auto& g) { return g.first == site; });
                if (it == groups.end())
                  groups.push_back({site, {h}});
                else
                  it->second.push_back(h);
              }
              if (groups.size() == 1) {
                auto site = groups.front().first;
                auto hosts = groups.front().second;
                return self->proxy(
                    site, std::move(*keep), "/v1/requests", submission_part(s, hosts),
                    [self, hosts, respond](http_response a) {
                      if (a.status == 422) self->forget(hosts);
                      respond(std::move(a));
                    },
                    key);
              }
              std::vector<std::string> bodies;
              for (const auto& [site, hosts] : groups) bodies.push_back(submission_part(s, hosts));
              self->parts(*keep, "/v1/requests", std::move(groups), std::move(bodies), key,
                          [self, hosts = s.hosts, respond, key](std::vector<part_outcome> parts) {
                            for (const auto& p : parts)
                              if (p.status == 422) self->forget(p.hosts);
                            auto a = merge_submission(hosts, parts);
                            a.headers.emplace_back("Idempotency-Key", key);
                            respond(std::move(a));
                          });
            });
  }

  void register_hosts(net::http_request req, const std::string& query_site, responder respond) {
    auto r = read_registration(req.body);
    if (!r.routable || !query_site.empty()) {
      std::optional<std::string> site;
      if (!query_site.empty()) site = query_site;
      auto body = req.body;
      return proxy(site, std::move(req), "/v1/hosts", std::move(body), std::move(respond));
    }
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    std::vector<std::vector<json>> objects;
    for (std::size_t i = 0; i < r.hosts.size(); ++i) {
      auto name = r.hosts[i]["name"].get<std::string>();
      cache.drop(name);
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == r.sites[i]; });
      if (it == groups.end()) {
        groups.push_back({r.sites[i], {name}});
        objects.push_back({r.hosts[i]});
      } else {
        it->second.push_back(name);
        objects[static_cast<std::size_t>(it - groups.begin())].push_back(r.hosts[i]);
      }
    }
    if (groups.size() == 1) {
      auto site = groups.front().first;
      auto body = req.body;
      return proxy(site, std::move(req), "/v1/hosts", std::move(body), std::move(respond));
    }
    std::vector<std::string> bodies;
    for (const auto& o : objects) bodies.push_back(registration_part(o));
    parts(req, "/v1/hosts", std::move(groups), std::move(bodies), "",
          [respond](std::vector<part_outcome> parts) { respond(merge_registration(parts)); });
  }

  void forget(const std::vector<std::string>& hosts) {
    for (const auto& h : hosts) cache.drop(h);
  }

  /// A call about one request: its site from the id's site part.
  void by_request(net::http_request req, const std::string& id, std::string target,
                  responder respond) {
    auto no_such = error(404, "not_found", "request " + net::printable(id) + " does not exist");
    auto site_id = site_id_of_request(id);
    if (!site_id) return respond(std::move(no_such));
    auto site = board->site_of(*site_id);
    if (!site) return respond(std::move(no_such));
    auto body = std::move(req.body);
    proxy(*site, std::move(req), std::move(target), std::move(body), std::move(respond));
  }

  /// A call about one host: its site by `resolve`.
  void by_host(net::http_request req, const std::string& name, std::string target,
               const std::string& query_site, responder respond) {
    std::optional<std::string> site;
    if (!query_site.empty()) site = query_site;
    if (!net::valid_host_name(name)) {
      auto body = req.body;
      return proxy(site, std::move(req), std::move(target), std::move(body), std::move(respond));
    }
    auto self = shared_from_this();
    auto keep = std::make_shared<net::http_request>(std::move(req));
    resolve(*keep, {name}, site, unknown_as::host_call,
            [self, keep, name, target = std::move(target), respond](resolution r) {
              if (r.refusal) return respond(std::move(*r.refusal));
              auto body = keep->body;
              self->proxy(r.site_of.at(name), std::move(*keep), target, std::move(body),
                          [self, name, respond](http_response a) {
                            if (a.status == 404) self->forget({name});
                            respond(std::move(a));
                          });
            });
  }

  void heartbeat(const net::http_request& req, responder respond) {
    std::string signature;
    if (auto it = req.headers.find("x-ab-signature"); it != req.headers.end())
      signature = it->second;
    auto secret = heartbeat_secret.load();
    auto hb = cluster::verify(req.body, signature, *secret, clock->now(), options.max_skew_ms);
    if (!hb) {
      ++counters->heartbeats_refused;
      // verify's errors: malformed input is invalid_argument; of the refusals, only the clock
      // check speaks of sent_at_ms.
      router_metrics.heartbeat(
          !is(hb.error(), errc::unauthenticated) ? metrics::heartbeat_outcome::invalid
          : message_of(hb.error()).find("sent_at_ms is more than") != std::string::npos
              ? metrics::heartbeat_outcome::stale
              : metrics::heartbeat_outcome::bad_signature);
      log()->warn("refused a heartbeat from {}: {}", net::client_address(req, trusted_proxies),
                  message_of(hb.error()));
      return respond(error(401, "bad_heartbeat", message_of(hb.error())));
    }
    auto self = shared_from_this();
    ask<bool>(
        [self, respond](caf::expected<bool> taken) {
          if (taken && *taken) {
            ++self->counters->heartbeats_accepted;
            self->router_metrics.heartbeat(metrics::heartbeat_outcome::accepted);
            return respond(http_response{204, "", "", {}, false});
          }
          self->router_metrics.heartbeat(metrics::heartbeat_outcome::replay);
          respond(error(409, "stale_heartbeat",
                        "not newer than this node's last heartbeat, or its site id is another "
                        "site's"));
        },
        beat_atom::value, beat_msg{std::move(*hb)});
  }

  /// Why the caller of `GET /v1/cluster` may not see it (401, 403, 429), or nullopt when it
  /// may: with a policy, a bearer token whose account has `read` (any site, as `GET /v1/node`
  /// asks on a node).
  std::optional<http_response> refuse_view(const net::http_request& req) {
    if (!options.auth) return std::nullopt;
    auto source = net::client_address(req, trusted_proxies);
    if (auto wait = auth_failures.blocked(source)) {
      auto seconds = static_cast<int>(std::max<time_ms>(1, (*wait + 999) / 1000));
      return error(
          429, "too_many_failures",
          "too many failed attempts from this address; retry in " + std::to_string(seconds) + " s",
          seconds);
    }
    std::string authorization;
    if (auto it = req.headers.find("authorization"); it != req.headers.end())
      authorization = it->second;
    // The router knows no directory: a directory login is refused, without a bind.
    auto who = options.auth->authenticate(authorization);
    if (!who) {
      auth_failures.record_failure(source);
      auto r = net::error_response(net::to_api_error(who.error()));
      r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="autobuild")");
      return r;
    }
    auto d = options.auth->authorize(*who, {"read", "", "", ""});
    if (!d.allowed) return error(403, "forbidden", d.reason);
    return std::nullopt;
  }

  void cluster_view(const net::http_request& req, responder respond) {
    if (auto no = refuse_view(req)) return respond(std::move(*no));
    json sites = json::array();
    for (const auto& n : board->view()) {
      if (sites.empty() || sites.back()["site"] != n.site)
        sites.push_back({{"site", n.site},
                         {"site_id", n.site_id},
                         {"clusters", json::object()},
                         {"live_nodes", 0}});
      auto& site = sites.back();
      json node{
          {"node_id", n.node_id},
          {"api_url", n.api_url},
          {"version", n.version},
          {"protocol", {{"min", n.protocol_min}, {"max", n.protocol_max}, {"used", n.protocol}}},
          {"health", n.health},
          {"heartbeat_age_ms", n.heartbeat_age_ms},
          {"load", n.load},
          {"api_in_flight", n.api_in_flight},
          {"router_in_flight", n.in_flight},
          {"refusals", n.refusals}};
      if (!n.incompatible_reason.empty()) node["incompatible_reason"] = n.incompatible_reason;
      site["clusters"][n.cluster].push_back(std::move(node));
      if (n.health == "fresh") site["live_nodes"] = site["live_nodes"].get<int>() + 1;
    }
    const auto& c = *counters;
    json doc{{"sites", sites},
             {"router",
              {{"in_flight", in_flight->load()},
               {"protocol",
                {{"min", board->options().protocol.min}, {"max", board->options().protocol.max}}},
               {"max_in_flight", options.max_in_flight},
               {"heartbeats_accepted", c.heartbeats_accepted.load()},
               {"heartbeats_refused", c.heartbeats_refused.load()},
               {"shed", c.shed.load()},
               {"failovers", c.failovers.load()}}}};
    respond(net::json_response(200, doc.dump()));
  }

  /// `GET /metrics`: the bearer token of `metrics_token_file`, or 401.
  void serve_metrics(const net::http_request& req, responder respond) {
    std::string presented;
    if (auto it = req.headers.find("authorization");
        it != req.headers.end() && it->second.size() > 7 &&
        strncasecmp(it->second.c_str(), "Bearer ", 7) == 0)
      presented = it->second.substr(7);
    if (presented.empty() || !same_token(presented, *metrics_token.load())) {
      auto r = error(401, "unauthenticated", "/metrics needs the scraper's bearer token");
      r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="autobuild")");
      return respond(std::move(r));
    }
    std::vector<metrics::router_node_row> rows;
    for (const auto& n : board->view())
      rows.push_back(
          {n.site, n.cluster, n.node_id, static_cast<double>(n.heartbeat_age_ms) / 1000, n.health});
    router_metrics.publish_nodes(rows);
    http_response r;
    r.content_type = metrics::content_type;
    r.body = metrics::text();
    respond(std::move(r));
  }

  void handle(net::http_request&& req, responder respond) {
    auto qpos = req.target.find('?');
    auto path = req.target.substr(0, qpos);
    auto query = qpos == std::string::npos ? std::string{} : req.target.substr(qpos + 1);
    // Counted once answered, under the route's pattern (never the raw path).
    respond = [m = &http_metrics, index = http_metrics.route_of(req.method, path),
               t0 = std::chrono::steady_clock::now(),
               respond = std::move(respond)](http_response r) {
      m->observe(index, r.status, seconds_since(t0));
      respond(std::move(r));
    };
    if (path == "/metrics" && !options.metrics_token.empty()) {
      if (req.method != "GET")
        return respond(error(405, "method_not_allowed", req.method + " is not allowed on " + path));
      return serve_metrics(req, std::move(respond));
    }
    if (path == "/healthz") {
      if (req.method != "GET" && req.method != "HEAD")
        return respond(error(405, "method_not_allowed", req.method + " is not allowed on " + path));
      return respond(net::json_response(200, R"({"status":"ok"})"));
    }
    if (path == "/v1/heartbeats") {
      if (req.method != "POST")
        return respond(error(405, "method_not_allowed", req.method + " is not allowed on " + path));
      return heartbeat(req, std::move(respond));
    }
    // The router's own view: served under overload too, for the operator who looks at it.
    if (path == "/v1/cluster") {
      if (req.method != "GET")
        return respond(error(405, "method_not_allowed", req.method + " is not allowed on " + path));
      return cluster_view(req, std::move(respond));
    }
    // The operator's view: files without data, no credentials (its calls need them).
    if (auto ui = web::serve_ui(req)) return respond(std::move(*ui));
    if (path.rfind("/v1/", 0) != 0)
      return respond(error(404, "not_found", "no such resource: " + net::printable(path)));
    // Capacity first, before any work: the place is held until the call is answered.
    auto slot = admit(in_flight, options.max_in_flight);
    if (!slot) {
      ++counters->shed;
      http_metrics.reject(metrics::reject_reason::capacity);
      return respond(overloaded());
    }
    // Then the client's own share, keyed on the client behind a trusted load balancer, so
    // that one busy client does not get the balancer limited for everyone.
    auto mine = admit_client(clients, net::client_address(req, trusted_proxies),
                             options.max_in_flight_per_client);
    if (!mine) {
      ++counters->shed;
      http_metrics.reject(metrics::reject_reason::client);
      return respond(error(429, "overloaded",
                           "this client has its limit of calls in flight at this router; retry "
                           "shortly",
                           1));
    }
    // The places are given back before the answer goes out, so that a client that has its
    // answer can call again at once (or when the call is dropped, with its last copy).
    struct places {
      std::mutex mutex;
      std::shared_ptr<in_flight_slot> total;
      std::shared_ptr<client_slot> client;
    };
    auto held = std::make_shared<places>();
    held->total = std::move(slot);
    held->client = std::move(mine);
    respond = [held, respond = std::move(respond)](http_response r) {
      {
        std::lock_guard<std::mutex> guard{held->mutex};
        held->total.reset();
        held->client.reset();
      }
      respond(std::move(r));
    };
    std::string site;
    auto q = net::parse_query(query);
    if (auto* e = std::get_if<net::api_error>(&q)) return respond(net::error_response(*e));
    if (auto& params = std::get<std::map<std::string, std::string>>(q); params.count("site")) {
      site = params["site"];
      if (!net::valid_site_name(site))
        return respond(error(400, "invalid_site", "site= must be a site name"));
    }
    auto seg = segments(path);
    // seg[0] is "v1".
    auto stripped = [&] {
      auto rest = without_site(query);
      return rest.empty() ? path : path + "?" + rest;
    };
    if (seg.size() == 2 && seg[1] == "requests" && req.method == "POST")
      return submit(std::move(req), site, std::move(respond));
    if (seg.size() == 2 && seg[1] == "hosts" && req.method == "POST")
      return register_hosts(std::move(req), site, std::move(respond));
    if ((seg.size() == 3 && seg[1] == "requests") ||
        (seg.size() == 4 && seg[1] == "requests" && seg[3] == "cancel") ||
        (seg.size() == 3 && seg[1] == "callbacks"))
      return by_request(std::move(req), seg[2], stripped(), std::move(respond));
    if (seg.size() == 3 && seg[1] == "hosts")
      return by_host(std::move(req), seg[2], stripped(), site, std::move(respond));
    // The queues of every live site at once, when the call names none and there are several.
    if (seg.size() == 2 && seg[1] == "queue" && req.method == "GET" && site.empty())
      if (auto live = board->live_sites(); live.size() > 1) {
        std::vector<std::pair<std::string, std::vector<std::string>>> groups;
        for (auto& s : live) groups.push_back({std::move(s), {}});
        std::vector<std::string> bodies(groups.size());
        return parts(req, stripped(), std::move(groups), std::move(bodies), "",
                     [respond](std::vector<part_outcome> p) { respond(merge_queues(p)); });
      }
    // Lists and everything else: the site named, or the only one there is. The node filters
    // lists by site= itself.
    bool filters = (seg.size() == 2 && (seg[1] == "requests" || seg[1] == "hosts"));
    auto target = filters ? req.target : stripped();
    std::optional<std::string> to;
    if (!site.empty()) to = site;
    auto body = std::move(req.body);
    proxy(to, std::move(req), std::move(target), std::move(body), std::move(respond));
  }
};

router_service::router_service(caf::actor_system& sys, node_table_actor table,
                               std::shared_ptr<table_board> board,
                               std::shared_ptr<node_client> client, router_options options)
    : counters_(std::make_shared<router_counters>()) {
  impl_ = std::make_shared<impl>(sys, std::move(table), std::move(board), std::move(client),
                                 std::move(options), counters_);
}

router_service::~router_service() = default;

void router_service::connections_changed(int delta) {
  impl_->http_metrics.connections_changed(delta);
}

void router_service::handle(net::http_request&& req, net::responder respond) {
  impl_->handle(std::move(req), std::move(respond));
}

caf::error router_service::reload_heartbeat_secret(const std::string& path) {
  auto secret = cluster::read_secret_file(path);
  if (!secret) return secret.error();
  impl_->heartbeat_secret.store(std::make_shared<const std::string>(std::move(*secret)));
  return caf::none;
}

caf::error router_service::reload_metrics_token(const std::string& path) {
  if (impl_->options.metrics_token.empty()) return caf::none;
  auto token = cluster::read_secret_file(path);
  if (!token) return token.error();
  impl_->metrics_token.store(std::make_shared<const std::string>(std::move(*token)));
  return caf::none;
}

std::vector<std::string> router_service::own_routes() {
  return {"GET /healthz", "POST /v1/heartbeats", "GET /v1/cluster"};
}

}  // namespace ab::router
