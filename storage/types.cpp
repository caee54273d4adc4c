#include "storage/types.hpp"

#include <algorithm>
#include <array>
#include <cstring>
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

namespace {

/// Length of the valid UTF-8 sequence at `s[i]` (no overlongs, surrogates or code points past
/// U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_length(const std::string& s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xc2 && c <= 0xdf   ? 2
                  : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4
                                           : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  unsigned char c1 = byte(i + 1);
  if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) ||
      (c == 0xf4 && c1 > 0x8f))
    return 0;
  return n;
}

}  // namespace

std::string bounded_text(const std::string& text, std::size_t max_bytes) {
  static const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  const std::string marker = truncation_marker;
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  // Where the last character that leaves room for the marker ended.
  std::size_t fits_with_marker = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto n = utf8_length(text, i);
    auto c = static_cast<unsigned char>(text[i]);
    bool control = n == 1 && (c < 0x20 || c == 0x7f);
    const std::string piece = n == 0 || control ? replacement : text.substr(i, n);
    i += n == 0 ? 1 : n;
    if (out.size() + piece.size() > max_bytes) {
      out.resize(fits_with_marker);
      return max_bytes >= marker.size() ? out + marker : out;
    }
    out += piece;
    if (out.size() + marker.size() <= max_bytes) fits_with_marker = out.size();
  }
  return out;
}

audit_entry bounded(audit_entry e) {
  e.actor = bounded_text(e.actor, audit_name_limit);
  e.source = bounded_text(e.source, audit_name_limit);
  e.action = bounded_text(e.action, audit_action_limit);
  e.target = bounded_text(e.target, audit_text_limit);
  e.decision = bounded_text(e.decision, audit_decision_limit);
  e.detail = bounded_text(e.detail, audit_text_limit);
  return e;
}

std::string owner_prefix(const std::string& node_id, const std::string& incarnation) {
  return node_id + "@" + incarnation + "/";
}

}  // namespace ab::storage
