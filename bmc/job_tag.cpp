#include "bmc/job_tag.hpp"

#include <utility>

namespace ab::bmc {

namespace {

thread_local std::string tag_of_thread;

}  // namespace

scoped_job_tag::scoped_job_tag(std::string tag) : previous_(std::move(tag_of_thread)) {
  tag_of_thread = std::move(tag);
}

scoped_job_tag::~scoped_job_tag() {
  tag_of_thread = std::move(previous_);
}

const std::string& current_job_tag() {
  return tag_of_thread;
}

}  // namespace ab::bmc
