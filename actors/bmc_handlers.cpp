#include "actors/bmc_handlers.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "auth/token.hpp"
#include "bmc/job_tag.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "lifecycle/workflows.hpp"

namespace ab::actors {

namespace {

using json = nlohmann::json;

/// A BMC error as a job outcome: an unreachable or busy BMC is worth retrying (through the
/// transient budget); a refusal (wrong credentials, an unsupported operation) is not.
job_outcome failed(const caf::error& err, const std::string& what) {
  auto why = what + ": " + message_of(err);
  if (is(err, errc::unavailable)) return job_outcome::transient_retry(why);
  if (is(err, errc::store_unavailable)) return job_outcome::retry(why);
  return job_outcome::fail(why);
}

/// The wait before the next try of a step deferred `deferrals` times: exponential, capped,
/// with equal jitter so that the hosts of one failed BMC network do not come back together.
time_ms transient_backoff(const bmc_context& c, int deferrals, std::uint64_t seed) {
  auto full = c.bmc_retry_base_ms;
  for (int i = 0; i < deferrals && full < c.bmc_retry_max_ms; ++i) full *= 2;
  full = std::min(full, c.bmc_retry_max_ms);
  return full / 2 + static_cast<time_ms>(seed % static_cast<std::uint64_t>(full / 2 + 1));
}

/// Turns a transient failure into a deferral while the step's retry budget lasts (waiting at
/// least until the BMC's circuit half-opens, if the failure opened it); past the budget it
/// stays a retry that spends an attempt, so a BMC that never comes back fails the job.
job_outcome outlast(const bmc_context& c, const storage::claimed_job& job, const bmc::target& t,
                    bmc::driver& d, job_outcome out) {
  if (out.what != job_outcome::kind::retry || !out.transient) return out;
  auto now = c.clk->now();
  auto since = job.deferred_since > 0 ? job.deferred_since : now;
  if (now - since >= c.bmc_retry_budget_ms) return out;
  auto seed = static_cast<std::uint64_t>(job.id) * 0x9E3779B97F4A7C15ull ^
              static_cast<std::uint64_t>(job.deferrals + 1) * 0xBF58476D1CE4E5B9ull;
  auto until = std::max(now + transient_backoff(c, job.deferrals, seed >> 7), d.available_at(t));
  return job_outcome::defer(out.text, until);
}

/// The sentence of `err` without its code.
std::string sentence_of(const caf::error& err) {
  auto m = message_of(err);
  auto colon = m.find(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

// The interfaces of a driver that `bmc_step` checked before it ran its body.
bmc::power_control& power_of(bmc::driver& d) {
  return *d.power_interface();
}
bmc::boot_control& boot_of(bmc::driver& d) {
  return *d.boot_interface();
}
bmc::media_control& media_of(bmc::driver& d) {
  return *d.media_interface();
}
bmc::inventory_reader& inventory_of(bmc::driver& d) {
  return *d.inventory_interface();
}
bmc::disk_eraser& eraser_of(bmc::driver& d) {
  return *d.erase_interface();
}

/// `JOB_ID/CLAIM`: the job and 16 hex digits of a digest of its lease token, which differ
/// between two claims of the job.
std::string job_tag(const storage::claimed_job& job) {
  static const char digits[] = "0123456789abcdef";
  auto h = fnv1a64(std::to_string(job.lease_token));
  std::string claim(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) claim[static_cast<std::size_t>(i)] = digits[h & 0xf];
  return std::to_string(job.id) + "/" + claim;
}

/// A job type performed by one function of (context, job, target, driver), through the
/// driver's interfaces of the capabilities `needs`.
class bmc_step final : public job_handler {
 public:
  using body = std::function<job_outcome(const bmc_context&, const storage::claimed_job&,
                                         const bmc::target&, bmc::driver&)>;

  bmc_step(bmc_context context, bmc::capability_set needs, body run, body reconcile = {})
      : context_(std::move(context)),
        needs_(needs),
        run_(std::move(run)),
        reconcile_(std::move(reconcile)) {}

  job_outcome run(const storage::claimed_job& job) override {
    // A retried attempt checked the circuit in `reconcile`, before its first call: once an
    // attempt has called the BMC, a refusal of the open circuit is that attempt's failure.
    return with_bmc(job, run_, !(reconcile_ && job.attempt > 1));
  }

  std::optional<job_outcome> reconcile(const storage::claimed_job& job) override {
    if (!reconcile_) return std::nullopt;
    auto out = with_bmc(job, reconcile_, true);
    // A reconcile that finds nothing settled answers `retry` with an empty reason: go on.
    if (out.what == job_outcome::kind::retry && out.text.empty()) return std::nullopt;
    return out;
  }

 private:
  /// Runs `f` on the job's BMC; with `wait_for_circuit`, first defers the job while the BMC's
  /// circuit is open (no call is made, no attempt spent).
  job_outcome with_bmc(const storage::claimed_job& job, const body& f, bool wait_for_circuit) {
    auto host = context_.store->host(job.host);
    if (!host) return failed(host.error(), "reading host " + job.host);
    if (!context_.credentials) return job_outcome::fail("this node has no credential store");
    auto creds = context_.credentials->resolve(host->credential_ref);
    if (!creds) return job_outcome::fail(message_of(creds.error()));
    if (!context_.drivers) return job_outcome::fail("this node has no BMC drivers");
    auto resolved = context_.drivers->resolve(host->bmc_endpoint);
    if (!resolved)
      return job_outcome::fail("host " + job.host + ": " + sentence_of(resolved.error()));
    auto& driver = resolved->driver;
    // Refused at submission by the lifecycle's rules; checked again for a request stored
    // before them, or an endpoint changed since.
    if (auto missing = needs_ - driver->capabilities(); !missing.empty())
      return job_outcome::fail(job.type + " needs " + missing.describe() + " of the BMC; the " +
                               driver->name() + " driver of host " + job.host +
                               " offers no such interface");
    bmc::target t;
    t.endpoint = resolved->address;
    t.user = creds->user;
    t.password = creds->password;
    t.timeout = context_.bmc_timeout;
    t.ca_file = context_.bmc_ca_file;
    t.insecure = context_.bmc_insecure;
    t.policy = context_.endpoints;
    // An open circuit: wait for it to half-open, spending no attempt on a call it would refuse.
    if (auto at = driver->available_at(t); wait_for_circuit && at > context_.clk->now())
      return job_outcome::defer("BMC " + host->bmc_endpoint + " is failing; its circuit is open",
                                at);
    // Which attempt this is, for a BMC that records who told it what (ab-bmcsim): the job and
    // a digest of its lease token (the token itself stays with the store).
    bmc::scoped_job_tag tag{job_tag(job)};
    return outlast(context_, job, t, *driver, f(context_, job, t, *driver));
  }

  bmc_context context_;
  bmc::capability_set needs_;
  body run_;
  body reconcile_;
};

/// Settled when the host is already in `want`; otherwise go on (empty retry).
bmc_step::body already(bmc::power_state want) {
  return [want](const bmc_context&, const storage::claimed_job&, const bmc::target& t,
                bmc::driver& d) {
    auto now = power_of(d).power(t);
    if (now && *now == want) return job_outcome::done();
    return job_outcome::retry("");
  };
}

bmc_step::body set_power(bmc::power_action a) {
  return
      [a](const bmc_context&, const storage::claimed_job&, const bmc::target& t, bmc::driver& d) {
        if (auto err = power_of(d).set_power(t, a))
          return failed(err, "power " + bmc::to_string(a));
        return job_outcome::done();
      };
}

job_outcome inventory(const bmc_context&, const storage::claimed_job&, const bmc::target& t,
                      bmc::driver& d) {
  auto inv = inventory_of(d).read_inventory(t);
  if (!inv) return failed(inv.error(), "inventory");
  return job_outcome::done(json(*inv).dump());
}

/// Records what the previous step (inventory) found on the host.
job_outcome record_facts(const bmc_context& c, const storage::claimed_job& job) {
  auto r = c.store->request(job.request);
  if (!r) return failed(r.error(), "reading request");
  if (job.position == 0 || r->jobs.size() < static_cast<std::size_t>(job.position))
    return job_outcome::fail("record_facts needs an inventory step before it");
  const auto& facts = r->jobs[static_cast<std::size_t>(job.position - 1)].result;
  if (facts.empty()) return job_outcome::fail("the inventory step recorded nothing");
  if (auto err = c.store->set_host_facts(job.host, facts)) return failed(err, "recording facts");
  return job_outcome::done();
}

std::string event_of(storage::request_id request) {
  return "install:" + std::to_string(request);
}

/// Points the host at the installer with a fresh one-time callback token and restarts it.
job_outcome boot_installer(const bmc_context& c, const storage::claimed_job& job,
                           const bmc::target& t, bmc::driver& d) {
  auto token = auth::random_token();
  if (auto err =
          c.store->issue_callback({job.request, auth::sha256_hex(token), event_of(job.request),
                                   c.clk->now() + c.install_timeout_ms}))
    return failed(err, "issuing the installer's callback token");
  auto url = c.installer_image + (c.installer_image.find('?') == std::string::npos ? "?" : "&") +
             "callback=" + c.callback_base() + "/v1/callbacks/" + std::to_string(job.request) +
             "&token=" + token;
  if (auto err = media_of(d).set_media(t, url)) return failed(err, "inserting the installer");
  if (auto err = boot_of(d).set_boot(t, bmc::boot_device::cd, true))
    return failed(err, "boot from CD");
  auto state = power_of(d).power(t);
  if (!state) return failed(state.error(), "reading the power state");
  auto action =
      *state == bmc::power_state::off ? bmc::power_action::on : bmc::power_action::force_restart;
  if (auto err = power_of(d).set_power(t, action)) return failed(err, "starting the installer");
  return job_outcome::done();
}

/// Waits (parked, holding no worker) for the installer's callback.
job_outcome install(const bmc_context& c, const storage::claimed_job& job) {
  if (job.event.empty())
    return job_outcome::park(event_of(job.request), c.clk->now() + c.install_timeout_ms);
  auto report = json::parse(job.event, nullptr, false);
  if (report.is_object() && report.value("status", "") == "succeeded")
    return job_outcome::done(job.event);
  auto message = report.is_object() ? report.value("message", "") : std::string{};
  return job_outcome::fail("the installer reported a failure" +
                           (message.empty() ? std::string{} : ": " + message));
}

job_outcome boot_disk(const bmc_context&, const storage::claimed_job&, const bmc::target& t,
                      bmc::driver& d) {
  if (auto err = media_of(d).set_media(t, "")) return failed(err, "ejecting the installer");
  if (auto err = boot_of(d).set_boot(t, bmc::boot_device::disk, false))
    return failed(err, "boot from disk");
  if (auto err = power_of(d).set_power(t, bmc::power_action::force_restart))
    return failed(err, "restarting from disk");
  return job_outcome::done();
}

job_outcome verify(const bmc_context&, const storage::claimed_job&, const bmc::target& t,
                   bmc::driver& d) {
  auto state = power_of(d).power(t);
  if (!state) return failed(state.error(), "reading the power state");
  if (*state != bmc::power_state::on)
    return job_outcome::retry("the host is " + bmc::to_string(*state) + ", not On yet");
  return job_outcome::done();
}

/// Erases every disk; the evidence (method and result per disk) is the job's result.
job_outcome erase(const bmc_context&, const storage::claimed_job&, const bmc::target& t,
                  bmc::driver& d) {
  auto results = eraser_of(d).erase_disks(t);
  if (!results) return failed(results.error(), "erasing disks");
  json evidence = *results;
  std::string bad;
  bool all_transient = true;
  for (const auto& r : *results)
    if (!r.ok) {
      bad += (bad.empty() ? "" : ", ") + r.drive;
      all_transient &= r.transient;
    }
  // A drive whose BMC answered 5xx or could not be reached is erased again (an erase is safe
  // to repeat); a drive the BMC cannot or will not erase fails the wipe.
  if (!bad.empty() && all_transient)
    return job_outcome::transient_retry("erase failed on " + bad + ": " + evidence.dump());
  if (!bad.empty()) return job_outcome::fail("erase failed on " + bad + ": " + evidence.dump());
  return job_outcome::done(json{{"erased", evidence}}.dump());
}

/// A step that needs the store, not the BMC.
class store_step final : public job_handler {
 public:
  using body = std::function<job_outcome(const bmc_context&, const storage::claimed_job&)>;
  store_step(bmc_context c, body f) : context_(std::move(c)), f_(std::move(f)) {}
  job_outcome run(const storage::claimed_job& job) override { return f_(context_, job); }

 private:
  bmc_context context_;
  body f_;
};

}  // namespace

void register_bmc_handlers(handler_registry& registry, const bmc_context& c) {
  using bmc::power_action;
  using bmc::power_state;
  // Each BMC step uses the interfaces the workflow table says its job type needs.
  auto add = [&](const std::string& type, bmc_step::body run, bmc_step::body reconcile = {}) {
    registry.add(type, std::make_shared<bmc_step>(c, lifecycle::job_types().at(type),
                                                  std::move(run), std::move(reconcile)));
  };
  add("power_on", set_power(power_action::on), already(power_state::on));
  add("power_off", set_power(power_action::off), already(power_state::off));
  add("ipmi_reboot", set_power(power_action::power_cycle));
  add("inventory", inventory);
  registry.add("record_facts", std::make_shared<store_step>(c, record_facts));
  add("boot_installer", boot_installer);
  registry.add("install", std::make_shared<store_step>(c, install));
  add("boot_disk", boot_disk);
  add("verify", verify);
  add("erase", erase);
  // Retiring is the lifecycle's last state change, which the store makes with the request.
  registry.add("retire",
               std::make_shared<store_step>(c, [](const bmc_context&, const storage::claimed_job&) {
                 return job_outcome::done();
               }));
}

}  // namespace ab::actors
