#include "actors/pool.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>

#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/detail/offspring.hpp"
#include "actors/worker.hpp"
#include "core/error.hpp"

namespace ab::actors {

namespace {

using steady = std::chrono::steady_clock;

bool passes(const storage::action_filter& f, const std::string& action) {
  auto in = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), action) != list.end();
  };
  return (f.only.empty() || in(f.only)) && !in(f.except);
}

std::shared_ptr<spdlog::logger> logger() {
  auto log = spdlog::get("actors");
  return log ? log : spdlog::default_logger()->clone("actors");
}

// --- the claimer: the pool's store calls, on a thread of their own -------------------------

/// The pool's one connection to the queue: every claim and completion of the pool goes through
/// it, one transaction at a time, so that the pool itself never blocks.
using claimer_actor =
    caf::typed_actor<caf::replies_to<cycle_atom, std::vector<storage::completion>, int,
                                     storage::action_filter>::with<storage::cycle_result>,
                     caf::reacts_to<crashed_atom, storage::claimed_job, std::string>,
                     caf::replies_to<release_atom, std::vector<storage::job_lease>>::with<bool>>;

struct claimer_state {
  pool_config cfg;
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "claimer";
};

claimer_actor::behavior_type claimer(claimer_actor::stateful_pointer<claimer_state> self,
                                     pool_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.log = logger();
  return {
      [self](cycle_atom, const std::vector<storage::completion>& done, int max_jobs,
             const storage::action_filter& actions) -> caf::result<storage::cycle_result> {
        const auto& c = self->state.cfg;
        // The node's clock is off the database's: hand back what finished, take nothing.
        if (max_jobs < 1 || (c.clock_ok && !c.clock_ok->in_bound())) {
          storage::cycle_result out;
          if (done.empty()) return out;
          auto res = c.store->complete(done);
          if (!res) return res.error();
          out.completed = std::move(*res);
          return out;
        }
        auto res =
            c.store->complete_and_claim(done, c.owner, c.type, max_jobs, c.lease_ms, actions);
        if (!res) return res.error();
        return std::move(*res);
      },
      [self](crashed_atom, const storage::claimed_job& job, const std::string& why) {
        // What the worker did may have half-happened: the attempt counts, and the job is
        // retried after its backoff (reconciling first) or fails once its attempts are spent.
        const auto& c = self->state.cfg;
        auto res = c.store->fail({job.id, job.lease_token}, "its worker crashed: " + why, true);
        if (!res) {
          if (!is(res.error(), errc::lease_lost))
            self->state.log->warn("{}: job {} of a crashed worker goes to recovery: {}", c.owner,
                                  job.id, message_of(res.error()));
          return;
        }
        // Counted as a worker counts its own failures: a retry, or a request failed for good.
        if (res->retrying)
          metrics::job_type_metrics::of(c.type).retries.Increment();
        else
          metrics::request_counters::finished(job.action, job.priority_class, "failed");
      },
      [self](release_atom, const std::vector<storage::job_lease>& jobs) {
        auto res = self->state.cfg.store->release(jobs);
        if (!res)
          self->state.log->warn("{}: cannot release {} job(s), recovery will: {}",
                                self->state.cfg.owner, jobs.size(), message_of(res.error()));
        return static_cast<bool>(res);
      },
  };
}

// --- the pool ---------------------------------------------------------------------------------

/// Collect what the workers finished so far (pool → itself, while a worker runs a batch of
/// several jobs).
using collect_atom = caf::atom_constant<caf::atom("collect")>;

/// The pool's own timers, apart from what others may send it.
using pool_internal =
    pool_actor::extend<caf::reacts_to<tick_atom, std::uint64_t>, caf::reacts_to<collect_atom>>;

struct slot {
  int index = 0;
  int incarnation = 0;
  worker_actor handle;
  /// When this slot's worker was restarted, within the restart window.
  std::deque<time_ms> restarts;
  /// Stops after its job (its pool shrank, or drains); not restarted.
  bool retiring = false;
  /// The batch the worker takes jobs from (null: idle), under the taker id `taker`.
  job_batch_ptr batch;
  std::int64_t taker = 0;
  bool busy() const { return batch != nullptr; }
};

/// Cycles a busy pool may have under way at once (each on a claimer, and a connection, of its
/// own): one transaction at a time would cap quick jobs at one batch per commit latency.
constexpr int max_cycles = 4;

/// How often a pool collects what its workers finished while one runs a batch of several
/// jobs: a job finished before a long one of the same batch is committed promptly.
constexpr auto collect_every = std::chrono::milliseconds(2);

struct pool_state {
  pool_config cfg;
  std::shared_ptr<spdlog::logger> log;
  /// Every claimer the pool started (the first one also releases and fails jobs), and those
  /// without a cycle under way.
  std::vector<claimer_actor> claimers;
  std::vector<claimer_actor> free_claimers;
  /// Workers by actor address.
  std::map<caf::actor_addr, slot> slots;
  /// The claimer and the workers: they end with the pool.
  detail::offspring children;
  /// Claimed jobs not all collected yet, one batch per claim; a batch's untaken jobs wait
  /// only while every worker is busy.
  std::vector<job_batch_ptr> batches;
  /// The id of the next tell of a batch to a worker.
  std::int64_t next_taker = 0;
  bool collect_scheduled = false;
  /// Finished, for the next cycle.
  std::vector<storage::completion> finished;
  /// Cycles under way, and the jobs they ask for.
  int cycles = 0;
  /// Releases of queued jobs under way; a drain ends only after them.
  int releases = 0;
  int asking = 0;
  /// False after a claim that found fewer jobs than it asked for, until the next tick.
  bool claim_due = true;
  /// Not known to have work waiting (at start, after a tick, after a claim that came back
  /// short): one claim at a time, so that an idle pool polls once for all its workers.
  bool probing = true;
  /// The store failed: nothing until the next tick.
  bool store_away = false;
  int empty_claims = 0;
  int store_failures = 0;
  /// Only the latest scheduled tick counts.
  std::uint64_t tick_gen = 0;
  steady::time_point last_claim;
  /// Moving averages of a job's run time and a cycle's round trip, in milliseconds.
  double job_ms = 0;
  double cycle_ms = 0;
  std::int64_t restarts = 0;
  /// The metrics of the pool's job type.
  metrics::job_type_metrics* metrics = nullptr;
  std::int64_t given_up = 0;
  bool draining = false;
  bool drain_done = false;
  caf::typed_response_promise<bool> drained;
  static inline const char* name = "pool";
};

using self_ptr = pool_internal::stateful_pointer<pool_state>;

double ms_since(steady::time_point t) {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

double moving_average(double avg, double sample) {
  return avg <= 0 ? sample : 0.8 * avg + 0.2 * sample;
}

std::string name_of(const pool_state& st, const slot& s) {
  return st.cfg.owner + "#" + std::to_string(s.index) + "." + std::to_string(s.incarnation);
}

int live(const pool_state& st) {
  int n = 0;
  for (const auto& [addr, s] : st.slots) n += s.retiring ? 0 : 1;
  return n;
}

int idle(const pool_state& st) {
  int n = 0;
  for (const auto& [addr, s] : st.slots) n += s.retiring || s.busy() ? 0 : 1;
  return n;
}

/// Claimed jobs that no worker has taken yet.
int untaken(const pool_state& st) {
  std::size_t n = 0;
  for (const auto& b : st.batches) n += b->untaken();
  return static_cast<int>(n);
}

void report(self_ptr self) {
  auto& st = self->state;
  if (st.cfg.parent)
    self->send(st.cfg.parent, report_atom::value,
               pool_report{st.cfg.type, live(st), st.restarts, st.given_up});
}

/// Jobs to ask for now, beyond what the cycles under way ask for: one per idle worker, and,
/// when jobs take less time than a claim, what the workers will finish during the next two
/// (up to a full batch for every cycle that may be under way), so that quick jobs do not wait
/// for the database. Jobs that take longer than a claim are never held ahead.
int wanted(const pool_state& st) {
  if (st.draining) return 0;
  int ahead = 0;
  if (st.job_ms > 0 && st.job_ms < st.cycle_ms)
    ahead = static_cast<int>(
        std::min<double>(max_cycles * st.cfg.batch, 2.0 * live(st) * st.cycle_ms / st.job_ms));
  return std::clamp(idle(st) + ahead - untaken(st) - st.asking, 0, st.cfg.batch);
}

/// The pool's first claimer: it also releases and fails jobs.
const claimer_actor& first_claimer(const pool_state& st) {
  return st.claimers.front();
}

/// The pool holds these leases now: the supervisor renews them.
void hold(pool_state& st, const std::vector<storage::claimed_job>& jobs) {
  if (st.cfg.held) st.cfg.held->add(jobs);
}

/// The pool no longer holds these leases (handed back, or left to run out): no renewal.
void let_go(pool_state& st, const std::vector<storage::job_lease>& leases) {
  if (st.cfg.held) st.cfg.held->remove(leases);
}

void schedule_tick(self_ptr self, time_ms pause) {
  auto& st = self->state;
  self->delayed_send(self, std::chrono::milliseconds(pause), tick_atom::value, ++st.tick_gen);
}

void maybe_cycle(self_ptr self);
void check_drained(self_ptr self);
void release_queued(self_ptr self, const storage::action_filter* keep);
void give_back(self_ptr self, std::vector<storage::job_lease> out);

/// Takes in what the workers finished of `b` since the last look.
void collect(pool_state& st, job_batch& b) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (b.collected[i] || !b.finished(i)) continue;
    b.collected[i] = true;
    st.job_ms = moving_average(st.job_ms, b.ms(i));
    auto& r = b.report(i);
    if (r.finished) {
      const auto& job = b.job(i);
      st.finished.push_back({r.lease, std::move(r.result), job.action, job.priority_class});
    } else {
      // The worker handed it back itself (failed, deferred, parked), or tried to: if that did
      // not reach the database, the lease runs out and recovery retries the job.
      let_go(st, {r.lease});
    }
  }
}

/// Forgets the batches whose every job is collected.
void sweep(pool_state& st) {
  st.batches.erase(std::remove_if(st.batches.begin(), st.batches.end(),
                                  [](const job_batch_ptr& b) {
                                    return std::all_of(b->collected.begin(), b->collected.end(),
                                                       [](bool c) { return c; });
                                  }),
                   st.batches.end());
}

void on_ran(self_ptr self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto it = st.slots.find(who);
  if (it == st.slots.end()) return;
  auto& s = it->second;
  if (s.batch) collect(st, *s.batch);
  s.batch = nullptr;
  sweep(st);
  if (s.retiring) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
}

/// While a worker may run a second job of its batch (the batch has more jobs than workers told
/// of it), looks again soon for what it finished: slow jobs, one per worker, need no look.
void schedule_collect(self_ptr self) {
  auto& st = self->state;
  if (st.collect_scheduled) return;
  std::vector<std::pair<const job_batch*, std::size_t>> told;
  for (const auto& [addr, s] : st.slots) {
    if (!s.batch) continue;
    auto it = std::find_if(told.begin(), told.end(),
                           [&](const auto& t) { return t.first == s.batch.get(); });
    if (it == told.end())
      told.emplace_back(s.batch.get(), 1);
    else
      ++it->second;
  }
  for (const auto& [b, workers] : told)
    if (b->size() > workers) {
      st.collect_scheduled = true;
      self->delayed_send(self, collect_every, collect_atom::value);
      return;
    }
}

/// Tells each idle worker of the batch with the most jobs left to take: a claimed job never
/// waits while a worker is idle, and a worker runs a stream of quick jobs without a message
/// per job.
void hand_out(self_ptr self) {
  auto& st = self->state;
  // What each batch had left to take when this pass began, less the workers told of it since:
  // a batch with one job left goes to one worker. (Read live, the count would also drop by
  // the jobs that workers told in this pass already took, and leave a worker idle.)
  std::vector<std::pair<job_batch*, int>> left;
  for (const auto& b : st.batches) left.emplace_back(b.get(), static_cast<int>(b->untaken()));
  for (auto& [addr, s] : st.slots) {
    if (s.retiring || s.busy()) continue;
    std::size_t best = left.size();
    for (std::size_t i = 0; i < left.size(); ++i)
      if (left[i].second > 0 && (best == left.size() || left[i].second > left[best].second))
        best = i;
    if (best == left.size()) break;
    --left[best].second;
    s.batch = st.batches[best];
    s.taker = ++st.next_taker;
    auto who = addr;
    self->request(s.handle, caf::infinite, run_atom::value, s.batch, s.taker)
        .then(
            [self, who](int) {
              on_ran(self, who);
              hand_out(self);
              maybe_cycle(self);
              check_drained(self);
            },
            // A worker that went down answers nothing: the down handler fails its job.
            [](caf::error&) {});
  }
  schedule_collect(self);
}

/// A cycle ended: its claimer is free again.
void cycle_ended(pool_state& st, const claimer_actor& c, int asked) {
  --st.cycles;
  st.asking -= asked;
  st.free_claimers.push_back(c);
}

void on_cycle(self_ptr self, const claimer_actor& c, int asked, steady::time_point t0,
              const std::vector<storage::job_lease>& handed_back, storage::cycle_result& r) {
  auto& st = self->state;
  cycle_ended(st, c, asked);
  // Completed, or lost to another holder: either way no longer ours.
  let_go(st, handed_back);
  hold(st, r.claimed);
  st.cycle_ms = moving_average(st.cycle_ms, ms_since(t0));
  if (st.store_failures > 0) st.log->info("{}: store reachable again", st.cfg.owner);
  st.store_failures = 0;
  for (auto id : r.completed.lost)
    st.log->warn("{}: job {} was no longer ours when it finished (lease lost or cancelled)",
                 st.cfg.owner, id);
  auto got = static_cast<int>(r.claimed.size());
  if (got > 0) st.metrics->claims.Increment(got);
  for (const auto& f : r.completed.succeeded)
    if (!f.action.empty())
      metrics::request_counters::finished(f.action, f.priority_class, "succeeded");
  // A claim asked with the filter in force when it began: one that began before a remap (a
  // move of the node to another cluster) may bring jobs the node no longer takes. They go
  // back unrun, so that once the pool has the new filter no job claimed under the old one runs.
  std::vector<storage::job_lease> not_ours;
  r.claimed.erase(std::remove_if(r.claimed.begin(), r.claimed.end(),
                                 [&](const storage::claimed_job& j) {
                                   if (passes(st.cfg.actions, j.action)) return false;
                                   not_ours.push_back({j.id, j.lease_token});
                                   return true;
                                 }),
                  r.claimed.end());
  give_back(self, std::move(not_ours));
  if (!r.claimed.empty()) st.batches.push_back(std::make_shared<job_batch>(std::move(r.claimed)));
  // A claim that was under way when the drain began: what it brought goes back at once.
  if (st.draining) release_queued(self, nullptr);
  hand_out(self);
  if (asked > 0) {
    st.last_claim = steady::now();
    st.probing = got < asked;
    if (got >= asked) {
      st.claim_due = true;
      st.empty_claims = 0;
    } else {
      // The queue holds no more for now: poll again after a pause, longer while it stays empty.
      st.claim_due = false;
      st.empty_claims = got == 0 ? st.empty_claims + 1 : 0;
      auto shift = std::min(std::max(st.empty_claims - 1, 0), 10);
      schedule_tick(self,
                    std::min<time_ms>(st.cfg.poll_interval_ms << shift,
                                      std::max(st.cfg.idle_poll_max_ms, st.cfg.poll_interval_ms)));
    }
  }
  if (r.completed.completed > 0 && st.cfg.parent)
    self->send(st.cfg.parent, advance_atom::value, st.cfg.type);
  maybe_cycle(self);
  check_drained(self);
}

void on_cycle_failed(self_ptr self, const claimer_actor& c, int asked,
                     std::vector<storage::completion>& done, const caf::error& err) {
  auto& st = self->state;
  cycle_ended(st, c, asked);
  // Nothing is lost: the finished jobs go with the next try.
  st.finished.insert(st.finished.begin(), done.begin(), done.end());
  if (st.store_failures++ == 0)
    st.log->warn("{}: store unavailable, retrying: {}", st.cfg.owner, message_of(err));
  st.store_away = true;
  schedule_tick(self, std::min<time_ms>(
                          st.cfg.poll_interval_ms << std::min(st.store_failures - 1, 5), 10'000));
}

/// Starts cycles while there is something to hand back or a claim is due and worth it.
void maybe_cycle(self_ptr self) {
  auto& st = self->state;
  while (!st.store_away && st.cycles < max_cycles) {
    auto ask = wanted(st);
    // A worker waits for a job right now, or a claim would fetch a fair batch.
    bool worth = ask > 0 && ((idle(st) > 0 && untaken(st) == 0) || 2 * ask >= st.cfg.batch);
    // Finished jobs go back at once (with a claim: their chains' next jobs may be of this
    // type), or with the next cycle when one is under way.
    bool hand_back = st.cycles == 0 && !st.finished.empty();
    if (!hand_back && !(st.claim_due && worth && !(st.probing && st.cycles > 0))) return;
    if (st.free_claimers.empty()) {
      auto fresh = self->system().spawn<caf::detached>(claimer, st.cfg);
      self->monitor(fresh);
      st.children.add(fresh);
      st.claimers.push_back(fresh);
      st.free_claimers.push_back(fresh);
    }
    auto c = st.free_claimers.back();
    st.free_claimers.pop_back();
    ++st.cycles;
    st.asking += ask;
    std::vector<storage::completion> done;
    done.swap(st.finished);
    auto t0 = steady::now();
    std::vector<storage::job_lease> handed_back;
    handed_back.reserve(done.size());
    for (const auto& d : done) handed_back.push_back(d.job);
    self->request(c, caf::infinite, cycle_atom::value, done, ask, st.cfg.actions)
        .then([self, c, ask, t0, handed_back](
                  storage::cycle_result& r) { on_cycle(self, c, ask, t0, handed_back, r); },
              [self, c, ask, done](caf::error& err) mutable {
                on_cycle_failed(self, c, ask, done, err);
              });
  }
}

void check_drained(self_ptr self) {
  auto& st = self->state;
  if (!st.draining || st.drain_done || st.cycles > 0 || st.releases > 0 || !st.finished.empty())
    return;
  for (const auto& [addr, s] : st.slots)
    if (s.busy()) return;
  st.drain_done = true;
  for (const auto& [addr, s] : st.slots) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
  for (const auto& c : st.claimers) self->send_exit(c, caf::exit_reason::user_shutdown);
  st.drained.deliver(true);
  self->quit();
}

/// Hands claimed jobs that no worker took back to the queue.
void give_back(self_ptr self, std::vector<storage::job_lease> out) {
  auto& st = self->state;
  if (out.empty()) return;
  // Released, or, if the release does not reach the database, left to run out.
  let_go(st, out);
  // Answered, so that a drain waits for it: the claimers end with the pool.
  ++st.releases;
  auto done = [self] {
    --self->state.releases;
    check_drained(self);
  };
  self->request(first_claimer(st), caf::infinite, release_atom::value, std::move(out))
      .then([done](bool) { done(); }, [done](caf::error&) { done(); });
}

/// Gives back claimed jobs not taken yet that `keep` does not let through (all of them when
/// null); those it lets through stay, in a batch of their own.
void release_queued(self_ptr self, const storage::action_filter* keep) {
  auto& st = self->state;
  std::vector<storage::job_lease> out;
  std::vector<storage::claimed_job> kept;
  for (const auto& b : st.batches)
    for (auto i : b->take_rest()) {
      b->collected[i] = true;
      const auto& j = b->job(i);
      if (keep && passes(*keep, j.action))
        kept.push_back(j);
      else
        out.push_back({j.id, j.lease_token});
    }
  sweep(st);
  if (!kept.empty()) st.batches.push_back(std::make_shared<job_batch>(std::move(kept)));
  give_back(self, std::move(out));
}

void spawn_slot(self_ptr self, slot s) {
  auto& st = self->state;
  s.handle =
      spawn_worker(self->system(), {name_of(st, s), st.cfg.store, st.cfg.handler, st.metrics});
  self->monitor(s.handle);
  st.children.add(s.handle);
  auto addr = s.handle.address();
  st.slots.emplace(addr, std::move(s));
}

void resize(self_ptr self, int want) {
  auto& st = self->state;
  st.cfg.workers = want;
  auto have = live(st);
  for (int index = 0; have < want; ++index) {
    bool taken = false;
    for (const auto& [addr, s] : st.slots) taken |= s.index == index && !s.retiring;
    if (taken) continue;
    slot fresh;
    fresh.index = index;
    spawn_slot(self, std::move(fresh));
    ++have;
  }
  // Shrink from the highest slot down, idle workers first; a busy one finishes its job.
  for (int pass = 0; pass < 2; ++pass)
    for (auto it = st.slots.rbegin(); have > want && it != st.slots.rend(); ++it) {
      auto& s = it->second;
      if (s.retiring || (pass == 0 && s.busy())) continue;
      s.retiring = true;
      if (!s.busy()) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
      --have;
    }
  if (live(st) == 0) release_queued(self, nullptr);
  report(self);
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (std::any_of(st.claimers.begin(), st.claimers.end(),
                  [&](const claimer_actor& c) { return c.address() == msg.source; })) {
    // Without its claimer the pool cannot go on: the supervisor restarts both.
    self->quit(msg.reason ? msg.reason : caf::make_error(caf::exit_reason::unknown));
    return;
  }
  auto it = st.slots.find(msg.source);
  if (it == st.slots.end()) return;
  st.children.remove(msg.source);
  auto s = std::move(it->second);
  st.slots.erase(it);
  if (s.batch) {
    // The job it had taken and not finished failed with it; what it finished still counts.
    auto& b = *s.batch;
    for (std::size_t i = 0; i < b.size(); ++i)
      if (!b.collected[i] && !b.finished(i) && b.taker(i) == s.taker) {
        b.collected[i] = true;
        const auto& j = b.job(i);
        let_go(st, {{j.id, j.lease_token}});
        self->send(first_claimer(st), crashed_atom::value, j, message_of(msg.reason));
      }
    collect(st, b);
    s.batch = nullptr;
    sweep(st);
  }
  if (st.draining) {
    check_drained(self);
    return;
  }
  if (s.retiring || !msg.reason) {
    report(self);
    return;
  }
  auto name = name_of(st, s);
  auto now = st.cfg.clk->now();
  while (!s.restarts.empty() && s.restarts.front() < now - st.cfg.restart_window_ms)
    s.restarts.pop_front();
  if (static_cast<int>(s.restarts.size()) >= st.cfg.max_restarts) {
    ++st.given_up;
    st.log->error("{} crashed {} times within {} ms; giving up on this worker slot ({})", name,
                  s.restarts.size() + 1, st.cfg.restart_window_ms, message_of(msg.reason));
    if (live(st) == 0) release_queued(self, nullptr);
    report(self);
    return;
  }
  s.restarts.push_back(now);
  ++st.restarts;
  st.metrics->worker_restarts.Increment();
  ++s.incarnation;
  st.log->warn("{} crashed ({}); restarting it as incarnation {}", name, message_of(msg.reason),
               s.incarnation);
  spawn_slot(self, std::move(s));
  report(self);
  hand_out(self);
  maybe_cycle(self);
}

pool_internal::behavior_type pool(self_ptr self, pool_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.log = logger();
  st.metrics = &metrics::job_type_metrics::of(st.cfg.type);
  st.claimers.push_back(self->system().spawn<caf::detached>(claimer, st.cfg));
  st.free_claimers = st.claimers;
  self->monitor(st.claimers.front());
  st.children.add(st.claimers.front());
  st.children.stop_with(self);
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  resize(self, st.cfg.workers);
  maybe_cycle(self);
  return {
      [self](filter_atom, storage::action_filter& f) {
        self->state.cfg.actions = std::move(f);
        release_queued(self, &self->state.cfg.actions);
      },
      [self](resize_atom, int n) {
        if (self->state.draining) return;
        resize(self, std::max(n, 0));
        hand_out(self);
        maybe_cycle(self);
      },
      [self](poke_atom) {
        auto& st = self->state;
        // Claiming already, or waiting for the store: a poke changes nothing.
        if (st.draining || st.store_away || st.claim_due || idle(st) == 0) return;
        st.empty_claims = 0;
        auto since = static_cast<time_ms>(ms_since(st.last_claim));
        schedule_tick(self, std::max<time_ms>(st.cfg.poll_interval_ms - since, 0));
      },
      // --- issue 10 (polish): a callback woke a parked job of this type --------------------
      [self](wake_atom) {
        auto& st = self->state;
        // Claim now rather than at the next poll (up to `idle_poll_max_ms` away while idle);
        // claiming already, waiting for the store or no idle worker: a wake changes nothing.
        if (st.draining || st.store_away || st.claim_due || idle(st) == 0) return;
        st.empty_claims = 0;
        schedule_tick(self, 0);
      },
      // --- end of issue 10 (polish) ------------------------------------------------------
      [self](tick_atom, std::uint64_t gen) {
        auto& st = self->state;
        if (gen != st.tick_gen) return;
        st.claim_due = true;
        st.probing = true;
        st.store_away = false;
        maybe_cycle(self);
        check_drained(self);
      },
      [self](collect_atom) {
        auto& st = self->state;
        st.collect_scheduled = false;
        for (const auto& b : st.batches) collect(st, *b);
        sweep(st);
        maybe_cycle(self);
        check_drained(self);
        schedule_collect(self);
      },
      [self](drain_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (st.draining) return st.drained;
        st.draining = true;
        st.drained = self->make_response_promise<bool>();
        release_queued(self, nullptr);
        for (auto& [addr, s] : st.slots) {
          s.retiring = true;
          if (!s.busy()) self->send_exit(s.handle, caf::exit_reason::user_shutdown);
        }
        // Finished jobs still go back (a cycle that claims nothing) before the pool ends.
        maybe_cycle(self);
        check_drained(self);
        return st.drained;
      },
  };
}

}  // namespace

pool_actor spawn_pool(caf::actor_system& sys, pool_config config) {
  return caf::actor_cast<pool_actor>(sys.spawn(pool, std::move(config)));
}

}  // namespace ab::actors
