#include "actors/handler.hpp"

namespace ab::actors {

job_outcome run_job(job_handler& handler, const storage::claimed_job& job) {
  try {
    if (job.attempt > 1)
      if (auto settled = handler.reconcile(job)) return *settled;
    return handler.run(job);
  } catch (const worker_crash&) {
    throw;
  } catch (const std::exception& e) {
    return job_outcome::retry(std::string{"handler threw: "} + e.what());
  } catch (...) {
    return job_outcome::retry("handler threw a non-standard exception");
  }
}

}  // namespace ab::actors
