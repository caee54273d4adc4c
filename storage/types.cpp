#include "storage/types.hpp"

#include <array>
#include <utility>

#include "storage/detail/sql.hpp"

namespace ab::storage {

namespace {

constexpr std::array<std::pair<request_state, const char*>, 5> request_names{{
    {request_state::queued, "queued"},
    {request_state::running, "running"},
    {request_state::succeeded, "succeeded"},
    {request_state::failed, "failed"},
    {request_state::cancelled, "cancelled"},
}};

constexpr std::array<std::pair<job_state, const char*>, 7> job_names{{
    {job_state::waiting, "waiting"},
    {job_state::ready, "ready"},
    {job_state::running, "running"},
    {job_state::parked, "parked"},
    {job_state::done, "done"},
    {job_state::failed, "failed"},
    {job_state::cancelled, "cancelled"},
}};

template <class Table, class E>
const char* name_of(const Table& table, E x) {
  for (const auto& [v, name] : table)
    if (v == x) return name;
  return "unknown";
}

template <class E, class Table>
std::optional<E> parse(const Table& table, const std::string& s) {
  for (const auto& [v, name] : table)
    if (s == name) return v;
  return std::nullopt;
}

}  // namespace

const char* to_string(request_state x) {
  return name_of(request_names, x);
}
const char* to_string(job_state x) {
  return name_of(job_names, x);
}

std::optional<request_state> parse_request_state(const std::string& s) {
  return parse<request_state>(request_names, s);
}

std::optional<job_state> parse_job_state(const std::string& s) {
  return parse<job_state>(job_names, s);
}

bool is_terminal(request_state x) {
  return x == request_state::succeeded || x == request_state::failed ||
         x == request_state::cancelled;
}

namespace detail {

std::string placeholders(std::size_t n) {
  std::string s = "(";
  for (std::size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s + ")";
}

}  // namespace detail

std::string owner_prefix(const std::string& node_id, const std::string& incarnation) {
  return node_id + "@" + incarnation + "/";
}

}  // namespace ab::storage
