#include "metrics/detail/process_stats.hpp"

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>

#include <unistd.h>

namespace ab::metrics::detail {
namespace {

std::string read_whole(const char* path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

prometheus::MetricFamily one(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  return {name, help, type, {m}};
}

// The number of entries of /proc/self/fd, the directory's own handle not counted.
std::optional<double> open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  double n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++n;
  }
  // The iterator's own descriptor is one of the entries.
  return n > 0 ? n - 1 : 0;
}

}  // namespace

std::optional<process_stats> parse_stat(std::string_view stat, long ticks_per_second,
                                        long page_size, double boot_time) {
  // The command name is in parentheses and may hold spaces and ')': fields start after the
  // last ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0 || page_size <= 0)
    return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 of proc(5), the state
  auto rest = stat.substr(close + 1);
  while (!rest.empty()) {
    auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  auto field = [&](int n) -> std::optional<std::uint64_t> {
    auto i = static_cast<std::size_t>(n - 3);
    return i < fields.size() ? to_u64(fields[i]) : std::nullopt;
  };
  auto utime = field(14), stime = field(15), start = field(22), vsize = field(23), rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  auto ticks = static_cast<double>(ticks_per_second);
  process_stats s;
  s.cpu_seconds = static_cast<double>(*utime + *stime) / ticks;
  s.virtual_bytes = static_cast<double>(*vsize);
  s.resident_bytes = static_cast<double>(*rss) * static_cast<double>(page_size);
  s.start_time_seconds = boot_time + static_cast<double>(*start) / ticks;
  return s;
}

std::optional<double> parse_boot_time(std::string_view proc_stat) {
  std::istringstream in{std::string(proc_stat)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    if (auto v = to_u64(line.substr(6))) return static_cast<double>(*v);
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> process_families() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  // Boot time does not change while the process runs.
  static const std::optional<double> boot = parse_boot_time(read_whole("/proc/stat"));
  if (boot) {
    if (auto s = parse_stat(read_whole("/proc/self/stat"), sysconf(_SC_CLK_TCK),
                            sysconf(_SC_PAGESIZE), *boot)) {
      out.push_back(one("process_cpu_seconds_total",
                        "Total user and system CPU time spent in seconds.", MetricType::Counter,
                        s->cpu_seconds));
      out.push_back(one("process_resident_memory_bytes", "Resident memory size in bytes.",
                        MetricType::Gauge, s->resident_bytes));
      out.push_back(one("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                        MetricType::Gauge, s->virtual_bytes));
      out.push_back(one("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                        s->start_time_seconds));
    }
  }
  if (auto fds = open_fds())
    out.push_back(
        one("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  return out;
}

}  // namespace ab::metrics::detail
