#include "actors/simulated_handlers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ab::actors {

namespace {

class simulated_handler final : public job_handler {
 public:
  simulated_handler(std::string type, simulation_options options)
      : type_(std::move(type)), options_(std::move(options)) {}

  job_outcome run(const storage::claimed_job& job) override {
    auto start = options_.clk->now();
    auto outcome = act(job);
    log(job, start, options_.clk->now());
    return outcome;
  }

 private:
  job_outcome act(const storage::claimed_job& job) {
    if (type_ == "sim.step")
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.step_ms));
    if (type_ == "sim.flaky" && job.attempt == 1)
      return job_outcome::retry("simulated transient failure");
    if (type_ == "sim.crash" && job.attempt == 1) {
      log(job, options_.clk->now(), options_.clk->now());
      throw worker_crash("simulated crash of the worker");
    }
    if (type_ == "sim.fail") return job_outcome::fail("simulated permanent failure");
    if (type_ == "sim.wait") {
      if (job.event.empty())
        return job_outcome::park("sim:" + job.host, options_.clk->now() + 60'000);
      return job_outcome::done(job.event);
    }
    return job_outcome::done();
  }

  void log(const storage::claimed_job& job, time_ms start, time_ms end) const {
    if (options_.log_path.empty()) return;
    auto line = std::to_string(job.id) + " " + std::to_string(job.attempt) + " " +
                options_.node_id + " " + type_ + " " + std::to_string(start) + " " +
                std::to_string(end) + "\n";
    // One write(2) of a short line with O_APPEND: lines of several processes never interleave.
    int fd = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    ::close(fd);
  }

  std::string type_;
  simulation_options options_;
};

}  // namespace

void register_simulated_handlers(handler_registry& registry, const simulation_options& options) {
  for (const auto* type :
       {"sim.noop", "sim.step", "sim.flaky", "sim.crash", "sim.fail", "sim.wait"})
    registry.add(type, std::make_shared<simulated_handler>(type, options));
}

}  // namespace ab::actors
