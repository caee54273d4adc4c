#include <gtest/gtest.h>

#include "actors/handler.hpp"

namespace ab::testing {

using actors::job_outcome;

namespace {

class scripted final : public actors::job_handler {
 public:
  job_outcome run(const storage::claimed_job& job) override {
    ++runs;
    if (job.host == "throws") throw std::runtime_error("BMC said no");
    if (job.host == "crashes") throw actors::worker_crash("boom");
    return job_outcome::done("ran");
  }
  std::optional<job_outcome> reconcile(const storage::claimed_job& job) override {
    ++reconciles;
    if (job.host == "already-done") return job_outcome::done("reconciled");
    return std::nullopt;
  }
  int runs = 0;
  int reconciles = 0;
};

storage::claimed_job job(const std::string& host, int attempt) {
  storage::claimed_job j;
  j.host = host;
  j.attempt = attempt;
  return j;
}

}  // namespace

TEST(HandlerRegistry, FindsHandlersByTypeAndListsTypes) {
  actors::handler_registry r;
  auto a = std::make_shared<scripted>();
  r.add("power_on", a);
  r.add("inventory", std::make_shared<scripted>());
  EXPECT_EQ(r.find("power_on"), a);
  EXPECT_EQ(r.find("nope"), nullptr);
  EXPECT_EQ(r.types(), (std::vector<std::string>{"inventory", "power_on"}));
  auto b = std::make_shared<scripted>();
  r.add("power_on", b);
  EXPECT_EQ(r.find("power_on"), b);
}

TEST(RunJob, AFirstAttemptRunsWithoutReconciling) {
  scripted h;
  auto out = actors::run_job(h, job("h1", 1));
  EXPECT_EQ(out.what, job_outcome::kind::done);
  EXPECT_EQ(h.reconciles, 0);
  EXPECT_EQ(h.runs, 1);
}

TEST(RunJob, ARetryReconcilesFirstAndMaySkipTheRun) {
  scripted h;
  auto out = actors::run_job(h, job("already-done", 2));
  EXPECT_EQ(out.text, "reconciled");
  EXPECT_EQ(h.runs, 0);
  out = actors::run_job(h, job("h1", 3));
  EXPECT_EQ(out.text, "ran");
  EXPECT_EQ(h.reconciles, 2);
}

TEST(RunJob, AThrowingHandlerFailsTheAttemptRetryably) {
  scripted h;
  auto out = actors::run_job(h, job("throws", 1));
  EXPECT_EQ(out.what, job_outcome::kind::retry);
  EXPECT_NE(out.text.find("BMC said no"), std::string::npos);
}

TEST(RunJob, AWorkerCrashIsNotSwallowed) {
  scripted h;
  EXPECT_THROW(actors::run_job(h, job("crashes", 1)), actors::worker_crash);
}

}  // namespace ab::testing
