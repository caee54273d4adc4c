#pragma once

// Which job attempt the calling thread's BMC calls are made for, sent to Redfish BMCs as the
// header `X-AB-Job: JOB_ID/CLAIM` so that a simulated BMC (ab-bmcsim) can record which
// attempt told it what (docs/e2e.md). A trace context, like a tracing library's: set by the
// worker around one job's BMC calls, which run on its own thread; never a secret.

#include <string>

namespace ab::bmc {

/// Sets the calling thread's job tag for its lifetime, restoring the previous one after.
class scoped_job_tag {
 public:
  explicit scoped_job_tag(std::string tag);
  ~scoped_job_tag();
  scoped_job_tag(const scoped_job_tag&) = delete;
  scoped_job_tag& operator=(const scoped_job_tag&) = delete;

 private:
  std::string previous_;
};

/// The calling thread's job tag ("" when none is set).
const std::string& current_job_tag();

}  // namespace ab::bmc
